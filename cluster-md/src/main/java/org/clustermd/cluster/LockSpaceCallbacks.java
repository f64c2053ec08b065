package org.clustermd.cluster;

import java.util.Set;
import java.util.function.Supplier;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ClusterCoordinator}'s lockspace callbacks (md's {@code recover_prep},
 * {@code recover_slot}, {@code recover_done}, and the session's health): they move the
 * {@link Membership}, tell the {@link ClusterListener}, queue a dead slot on the
 * {@link RecoveryThread}, drop the dead slot's resync window, tell the peers' resync state of a
 * graceful leave and pass session states to the {@link SessionFence}. Owns nothing;
 * the recovery thread and the fence are the coordinator's.
 *
 * <p>Thread-safety: called on the lockspace's callback thread (session health on its session
 * thread), so each callback is quick and never blocks: the work is queued on the recovery
 * thread. The recovery thread and the fence are read through the coordinator's volatile fields,
 * since callbacks may come before join returns.
 */
final class LockSpaceCallbacks implements LockSpaceListener {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final String arrayName;
    private final Membership membership;
    private final ClusterListener listener;
    private final Supplier<RecoveryThread> recovery;
    private final Supplier<SessionFence> session;
    /** Told of a slot's death or graceful leave (its resync window, a wait for its sync). */
    private final PeerResyncs peers;

    LockSpaceCallbacks(
            String arrayName,
            Membership membership,
            ClusterListener listener,
            Supplier<RecoveryThread> recovery,
            Supplier<SessionFence> session,
            PeerResyncs peers) {
        this.arrayName = arrayName;
        this.membership = membership;
        this.listener = listener;
        this.recovery = recovery;
        this.session = session;
        this.peers = peers;
    }

    @Override
    public void recoveryStarted() {
        membership.recoveryStarted();
        listener.recoverPrep();
    }

    @Override
    public void memberLost(MemberId dead) {
        log.warn("{}: node in {} died; recovering its bitmap", arrayName, dead);
        listener.recoverSlot(dead.slot());
        peers.slotDied(dead.slot().number());
        RecoveryThread r = recovery.get();
        if (r != null) r.add(dead);
    }

    @Override
    public void memberLeft(MemberId gone) {
        peers.slotLeft(gone.slot().number());
    }

    @Override
    public void recoveryFinished(NodeSlot ourSlot, Set<NodeSlot> members) {
        if (membership.recoveryFinished()) listener.recoverDone(members);
    }

    @Override
    public void stateChanged(LockSpaceState s) {
        SessionFence f = session.get();
        if (f != null) f.stateChanged(s);
    }
}
