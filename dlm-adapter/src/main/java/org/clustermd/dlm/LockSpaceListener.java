package org.clustermd.dlm;

import java.util.Set;

/**
 * Membership, recovery and session-health callbacks of a lockspace: the DLM's
 * recover_prep / recover_slot / recover_done, plus the session state.
 *
 * <p>For every membership change, survivors get {@link #recoveryStarted()} first, then
 * {@link #memberLost} once for every member that died and {@link #memberLeft} once for every one
 * that left gracefully, then {@link #recoveryFinished}. Recovery is cluster-wide, as in the Linux DLM: a dead member's locks
 * are purged, and so granted to anyone, only after recoveryStarted for that death has returned on
 * <em>every</em> live member, this one included. A member that joins while a dead member's locks
 * are still held gets the same sequence for that death (recoveryStarted, memberLost unless the
 * dead member held the joiner's own slot, recoveryFinished instead of the plain one that reports
 * a join) and the purge waits for it too; members that die or leave meanwhile drop out.
 * recoveryFinished comes when the dead members' locks are gone. So a slow recoveryStarted anywhere
 * delays every node's recovery: keep it short.
 *
 * <p>Recovery callbacks run one at a time, in order with the grant completions and blocking
 * callbacks: on the lockspace's callback thread, or, when nothing else is running, on the thread
 * that produced them (ZooKeeper's event thread, or the caller's inside {@code join} for a death
 * it joins into), so a slow one holds that thread up too; {@link #stateChanged} runs at once on the thread that noticed
 * the change (the session's, or the lease's when the lease ends) so a suspension reaches the
 * user without waiting behind other callbacks. All must return
 * quickly and must not call blocking methods of the lockspace.
 */
public interface LockSpaceListener {
    /** recover_prep: membership is changing; lock state may be in flux (md suspends read balancing). */
    default void recoveryStarted() {}

    /** recover_slot: the member in {@code slot} died; its locks are being purged. */
    default void memberLost(NodeSlot slot) {}

    /**
     * recover_slot with the dead member's incarnation, which the lock manager calls instead of
     * {@link #memberLost(NodeSlot)}: by default it calls that. A listener that recovers later (not
     * inside the callback) keeps the incarnation, so that it never acts on a new member that took
     * the slot meanwhile ({@link LockSpace#memberIn}).
     */
    default void memberLost(MemberId dead) {
        memberLost(dead.slot());
    }

    /**
     * The member {@code gone} left gracefully (it closed its lockspace; its locks are released,
     * none is purged): no recover_slot comes for it. Not for this node's own slot.
     */
    default void memberLeft(MemberId gone) {}

    /**
     * recover_done: the change is complete; {@code ourSlot} is this node's slot (also delivered
     * once when this node has joined) and {@code members} the slots of all live members,
     * including ours.
     */
    default void recoveryFinished(NodeSlot ourSlot, Set<NodeSlot> members) {}

    /** The session health changed; see {@link LockSpaceState} for what each state requires. */
    default void stateChanged(LockSpaceState state) {}
}
