package org.clustermd.dlm;

/**
 * The outcome of a granted request: the mode now held, the LVB as the lock sees it after the
 * grant, and the fencing token.
 *
 * @param mode the granted mode
 * @param valueBlock the lock's LVB after the grant (the resource's value when the grant read it)
 * @param fencingToken for a PW or EX grant, a token strictly greater than that of every earlier
 *     PW/EX grant on any resource of the cluster (it is the ZooKeeper zxid of the grant); writes
 *     protected by the lock record it so storage can reject a fenced holder. 0 for other modes.
 */
public record LockGrant(LockMode mode, LockValueBlock valueBlock, long fencingToken) {}
