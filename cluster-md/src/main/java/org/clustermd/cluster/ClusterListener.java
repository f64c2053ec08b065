package org.clustermd.cluster;

import java.util.Set;
import java.util.UUID;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.dlm.NodeSlot;

/**
 * Told what a {@link ClusterCoordinator} does about membership and node recovery: the events md
 * logs as {@code recover_prep}, {@code recover_slot}, a peer's hand-over (BITMAP_NEEDS_SYNC), the
 * bitmap copy of a dead or leaving node's slot and {@code recover_done}. The {@code node} verb prints them; JMX notifications will follow.
 *
 * <p>Calls come from the lockspace's callback thread (membership) and from the
 * {@code cluster-recover-<array>} thread (slot recovery) and the receive thread (hand-over), never while the coordinator holds a
 * lock; a listener must return quickly and must not call back into the coordinator's blocking
 * methods. Implementations must be thread-safe.
 */
public interface ClusterListener {

    /** The membership state moved from {@code from} to {@code to}. */
    default void membershipChanged(MembershipState from, MembershipState to) {}

    /** recover_prep: membership is changing; read balancing is suspended. */
    default void recoverPrep() {}

    /** recover_slot: the member in {@code dead} died; its bitmap will be recovered. */
    default void recoverSlot(NodeSlot dead) {}

    /**
     * BITMAP_NEEDS_SYNC: the member in {@code leaving} stops with resync work left and hands its
     * slot over; it will be recovered here as a dead node's is, once that member released its
     * bitmap lock. Called on the message receive thread, before the message is acknowledged.
     */
    default void slotHandedOver(NodeSlot leaving) {}

    /**
     * The dead node's slot was recovered here: {@code copy} says how many dirty chunks were
     * moved into this node's bitmap (none when another survivor recovered it first).
     */
    default void slotRecovered(NodeSlot dead, SlotCopy copy) {}

    /**
     * Recovering {@code dead}'s slot failed this time ({@code why}); it stays pending and is
     * retried, and reads stay unbalanced meanwhile.
     */
    default void slotRecoveryFailed(NodeSlot dead, String why) {}

    /** recover_done: the membership change is complete; {@code members} are the live slots. */
    default void recoverDone(Set<NodeSlot> members) {}

    /**
     * A device a peer announced with NEWDISK ({@code deviceUuid}, {@code devNumber}) reached
     * {@code state} on this node; {@code why} says what decided it. Called on the receive thread.
     */
    default void deviceCandidate(UUID deviceUuid, int devNumber, CandidateState state, String why) {}
}
