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
     * The connection is in doubt or the lease is ending ({@link LockSpace#leaseDeadlineNanos()}).
     * The session may expire on the lock manager any moment now, and then another node may be
     * granted this node's locks: stop issuing any write that a lock protects (self-fence) now.
     * A holder's belief in its locks ends here (or at the lease deadline, if that comes first),
     * never later. A grant delivered after this was reported fails with
     * {@link DlmException.Code#SUSPENDED}. Locks are not released; if the same session
     * reconnects with a valid lease, the state returns to {@link #ACTIVE} and every lock is
     * still held.
     */
    SUSPENDED,
    /**
     * The session is gone: every lock this node held is released (other members will purge them
     * after their recovery callbacks), every pending request has failed, and the node is no
     * longer a member. The lockspace cannot be used again; join a new one. LOST is no fence: it
     * comes after the server expired the session, when others may already hold the locks; the
     * fence was {@link #SUSPENDED}.
     */
    LOST,
    /** Left gracefully with {@link LockSpace#close()}. */
    CLOSED
}
