package org.clustermd.cluster;

import java.util.function.Supplier;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.raid1.Raid1Exception;

/**
 * The send side of resync coordination (md's {@code resync_info_update}): this node's resync
 * window, published in its own bitmap lock's value block (PW to PW, for a node that joins later)
 * and then broadcast as RESYNCING, which every peer acknowledges only after it drained its writes
 * there (docs/md-cluster-protocol.md §e.3), and RESYNCING_START when a pass starts. It owns the window last announced, so that an
 * unchanged one is not sent again and the pass ends with one (0, 0).
 *
 * <p>Thread-safe: the sync thread announces, the md thread ends the pass; this object's monitor
 * orders them.
 */
final class ResyncAnnouncer {
    private final ClusterCoordinator owner;
    private final Supplier<LockResource> bitmapLock;
    private final Supplier<MessageChannel> channel;
    /** What every peer was told last; null when an announcement failed half-way (unknown). */
    private ResyncInfo last = ResyncInfo.NONE;

    ResyncAnnouncer(ClusterCoordinator owner, Supplier<LockResource> bitmapLock, Supplier<MessageChannel> channel) {
        this.owner = owner;
        this.bitmapLock = bitmapLock;
        this.channel = channel;
    }

    /**
     * This node resyncs {@code [lo, hi)} next ((0, 0): no more); returns once every peer
     * acknowledged (its writes there drained).
     *
     * @throws Raid1Exception CLUSTER when the value block or the broadcast failed (the next
     *     announcement is sent whatever it says)
     */
    synchronized void announce(long lo, long hi) throws Raid1Exception {
        ResyncInfo next = hi > lo ? new ResyncInfo(lo, hi) : ResyncInfo.NONE;
        if (next.equals(last)) return;
        last = null;
        LockResource r = bitmapLock.get();
        try {
            r.setValueBlock(next.toValueBlock(r.valueBlock().size()));
            r.convert(LockMode.PW); // within the lockspace's request timeout
        } catch (DlmException | RuntimeException e) {
            throw owner.cluster("publishing resync window [" + lo + ", " + hi + ") failed: " + e.getMessage(), e);
        }
        channel.get().broadcast(new ClusterMessage.Resyncing(next.lo(), next.hi()));
        last = next;
    }

    /**
     * At join, with our bitmap lock just taken in PW: (0, 0) into its value block, since what it
     * holds was left by the slot's previous owner (docs/lessons.md §39).
     */
    synchronized void clearLeftOver() throws DlmException {
        LockResource r = bitmapLock.get();
        ResyncInfo.clearIn(r);
        r.convert(LockMode.PW);
        last = ResyncInfo.NONE;
    }

    /**
     * md's resync_start_notify: a pass starts here, with the resync lock held; RESYNCING_START
     * lets peers holding a new spare back activate it (docs/md-cluster-protocol.md §e.8).
     */
    void started() throws Raid1Exception {
        channel.get().broadcast(new ClusterMessage.ResyncingStart());
    }

    /** The pass is over: (0, 0), unless the peers already know there is no window. */
    void end() throws Raid1Exception {
        announce(0, 0);
    }
}
