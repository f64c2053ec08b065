package org.clustermd.dlm;

/**
 * One node's connection to a lock manager for one cluster: the seam the kernel DLM offers as
 * {@code dlm_new_lockspace} and {@code dlm_release_lockspace}. A node joins lockspaces by name
 * (md-cluster: one per array, named by its UUID) under its node name; closing the manager leaves
 * every lockspace it joined.
 *
 * <p>md-cluster takes one from whoever embeds it, so the same coordinator runs on any
 * implementation of this API ({@code org.clustermd.dlm.zk.ZkLockManager} is the one on
 * ZooKeeper).
 *
 * <p>Implementations are thread-safe.
 */
public interface LockManager extends AutoCloseable {

    /**
     * Joins (creating if needed) the lockspace {@code name} and returns once this node is a
     * member with a slot. Bounded by the options' request timeout.
     *
     * @throws DlmException {@code SLOTS_EXHAUSTED} when every slot is taken,
     *     {@code NODE_NAME_IN_USE} when a live member has this node's name, or why the lock
     *     manager could not be reached
     */
    LockSpace join(String name, LockSpaceOptions options) throws DlmException;

    /**
     * The cluster this manager serves; as {@code dlm_new_lockspace}'s cluster argument, a member
     * checks it against the name its metadata records before it joins.
     */
    String cluster();

    /** This node's name: its identity in every lockspace, stable across restarts. */
    String nodeName();

    /** Leaves every lockspace this manager joined and ends its connection. Never throws. */
    @Override
    void close();
}
