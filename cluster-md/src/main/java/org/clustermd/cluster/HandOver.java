package org.clustermd.cluster;

import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.Disposition;
import org.clustermd.cluster.message.Envelope;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md-cluster's graceful hand-over (docs/md-cluster-protocol.md §c.5, §d.3): the first half of a
 * {@link ClusterCoordinator}'s leave, and the receiving side of a peer's BITMAP_NEEDS_SYNC. Owns
 * only the once-flag of the hand-over; the channel, the recovery thread, the lockspace and the
 * membership are the coordinator's.
 *
 * <p>Leaving, in md's close order: stop receiving (a message in progress is finished; nothing is
 * handled after this, and peers' broadcasts no longer wait for us), stop the recovery thread
 * (both touch our bitmap), then, when the array stops with resync work left, broadcast
 * BITMAP_NEEDS_SYNC naming our slot; the engine closes the bitmap after this, and only then does
 * {@link ClusterCoordinator#leave} release the locks, our bitmap lock among them. So a peer that
 * takes our slot over waits for that lock, and reads the slot after our last bitmap write.
 *
 * <p>Receiving: the sender's slot is queued on the {@link RecoveryThread} with the incarnation of
 * the member in that slot now, the leaver itself: the same path as a dead node's slot, except
 * that the recovery waits while that member is still leaving and stops if a new member (another
 * incarnation) took the slot since.
 *
 * <p>Thread-safety: {@link #leaving} may be called from any thread, and runs once;
 * {@link #received} on the channel's receive thread.
 */
final class HandOver {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final ClusterCoordinator owner;
    private final ClusterListener listener;
    private final Supplier<Membership> membership;
    private final Supplier<LockSpace> lockSpace;
    private final Supplier<MessageChannel> channel;
    private final Supplier<RecoveryThread> recovery;
    private final AtomicBoolean done = new AtomicBoolean();

    HandOver(
            ClusterCoordinator owner,
            ClusterListener listener,
            Supplier<Membership> membership,
            Supplier<LockSpace> lockSpace,
            Supplier<MessageChannel> channel,
            Supplier<RecoveryThread> recovery) {
        this.owner = owner;
        this.listener = listener;
        this.membership = membership;
        this.lockSpace = lockSpace;
        this.channel = channel;
        this.recovery = recovery;
    }

    /**
     * The first half of leave; the second ({@link ClusterCoordinator#leave}) releases the locks.
     * {@code arrayInSync} false: the array stops with resync work left, which a peer takes over.
     * Runs once; never throws (a hand-over that fails leaves the bits in our slot, where the next
     * node that joins into it or gathers it finds them, docs/md-cluster-protocol.md §c.4).
     */
    void leaving(boolean arrayInSync) {
        if (!done.compareAndSet(false, true)) return;
        Membership m = membership.get();
        boolean member = m != null && m.transition(Membership.MEMBER, MembershipState.LEAVING);
        MessageChannel c = channel.get();
        // a permit left by a failed update or add, or an assembly failed after join, must not keep
        // the token from the peers, nor from us
        if (c != null) c.endJoin();
        owner.addNewDiskCancel();
        owner.metadataUpdateCancel();
        if (c != null) c.stopReceiving();
        RecoveryThread r = recovery.get();
        if (r != null) r.stop();
        if (arrayInSync) return;
        if (!member || c == null) {
            log.warn(
                    "{}: stopping with resync work left, but not a member: the bits stay in our slot",
                    owner.arrayName());
            return;
        }
        LockSpace ls = lockSpace.get();
        if (ls != null && ls.members().size() < 2) {
            // md sends it all the same and nobody hears it; say what really happens
            log.info(
                    "{}: stopping with resync work left and no peer: the bits stay in our slot for the next node",
                    owner.arrayName());
            return;
        }
        try {
            c.broadcast(new ClusterMessage.BitmapNeedsSync());
            log.info(
                    "{}: stopping with resync work left: BITMAP_NEEDS_SYNC sent, a peer takes our slot over",
                    owner.arrayName());
        } catch (Raid1Exception e) {
            log.warn("{}: BITMAP_NEEDS_SYNC failed, the bits stay in our slot: {}", owner.arrayName(), e.getMessage());
        }
    }

    /**
     * A peer's BITMAP_NEEDS_SYNC (md's {@code __recover_slot} for the sender): queue its slot with
     * its incarnation. Refused when no member is in the sender's slot in our view (it cannot be
     * the one that sent), so the sender learns its hand-over was not taken.
     */
    Disposition received(Envelope e) {
        NodeSlot slot = new NodeSlot(e.senderSlot());
        LockSpace ls = lockSpace.get();
        Optional<MemberId> sender = ls == null ? Optional.empty() : ls.memberIn(slot);
        RecoveryThread r = recovery.get();
        if (sender.isEmpty() || r == null) {
            log.warn("{}: BITMAP_NEEDS_SYNC from {}, which is not a member here: refused", owner.arrayName(), slot);
            return Disposition.REFUSED;
        }
        log.info("{}: {} leaves with resync work left; taking its slot over", owner.arrayName(), sender.get());
        listener.slotHandedOver(slot);
        r.add(sender.get());
        return Disposition.PROCESSED;
    }
}
