package org.clustermd.dlm.zk;

/**
 * A {@link ZkLockSpace}'s place in the lockspace, apart from the session's health (its
 * {@code state()}): the values of its one stage field, which only its {@code transition} changes.
 */
enum LockSpaceStage {
    /** Reading the lockspace and claiming a slot: nothing is decided yet. */
    JOINING,
    /** A member: requests are decided (while ACTIVE) and membership changes reported. */
    MEMBER,
    /** {@code close} releases this node's locks: no new decisions, requests fail with CLOSED. */
    LEAVING,
    /** CLOSED or LOST: every request failed, nothing held. */
    GONE
}
