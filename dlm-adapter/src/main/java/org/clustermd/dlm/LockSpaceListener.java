package org.clustermd.dlm;

import java.util.Set;

/**
 * Membership, recovery and session-health callbacks of a lockspace: the DLM's
 * recover_prep / recover_slot / recover_done, plus the session state.
 *
 * <p>For every membership change, survivors get {@link #recoveryStarted()} first, then
 * {@link #memberLost} once for every member that died (not for one that left gracefully), then
 * {@link #recoveryFinished}. A dead member's locks are purged only after recoveryStarted has been
 * delivered here: no request of this node that the dead member's locks blocked is granted before
 * that callback returned. recoveryFinished comes when the dead members' locks are gone.
 *
 * <p>Recovery callbacks run on the lockspace's single callback thread in order with the grant
 * completions and blocking callbacks; {@link #stateChanged} runs at once on the thread that noticed
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
     * recover_done: the change is complete; {@code ourSlot} is this node's slot (also delivered
     * once when this node has joined) and {@code members} the slots of all live members,
     * including ours.
     */
    default void recoveryFinished(NodeSlot ourSlot, Set<NodeSlot> members) {}

    /** The session health changed; see {@link LockSpaceState} for what each state requires. */
    default void stateChanged(LockSpaceState state) {}
}
