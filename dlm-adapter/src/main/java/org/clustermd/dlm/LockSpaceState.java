package org.clustermd.dlm;

/**
 * The health of a lockspace's session with the lock manager. Owned by the lockspace
 * implementation, which is the only place that translates the substrate's connection states;
 * users learn of every change through {@link LockSpaceListener#stateChanged}.
 */
public enum LockSpaceState {
    /** Joined and connected: granted locks are held and requests make progress. */
    ACTIVE,
    /**
     * The connection is in doubt. The session may already have expired on the lock manager, so
     * another node may be granted this node's locks at any moment: stop issuing any write that a
     * lock protects (self-fence) now. Locks are not released; if the same session reconnects the
     * state returns to {@link #ACTIVE} and every lock is still held.
     */
    SUSPENDED,
    /**
     * The session is gone: every lock this node held is released (other members will purge them
     * after their recovery callbacks), every pending request has failed, and the node is no
     * longer a member. The lockspace cannot be used again; join a new one.
     */
    LOST,
    /** Left gracefully with {@link LockSpace#close()}. */
    CLOSED
}
