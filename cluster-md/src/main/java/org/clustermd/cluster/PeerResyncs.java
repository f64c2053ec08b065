package org.clustermd.cluster;

import java.time.Duration;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The receive side of resync coordination (md's {@code process_suspend_info}, the window part of
 * {@code gather_all_resync_info} and of {@code recover_slot}): keeps the {@link ResyncWindows}
 * as peers announce a window, end their pass or die, and drains this node's writes out of a new
 * window before its RESYNCING is acknowledged (docs/md-cluster-protocol.md §e.4). md quiesces
 * the whole array there; this drains only the window's range, so writes elsewhere never wait
 * (docs/lessons.md §38). Owns the {@link ResyncWindows} (the drain is the engine's) and the
 * {@link WaitingForSync} flag, which RESYNCING_START, RESYNCING(0, 0) and a slot's death or
 * graceful leave clear.
 *
 * <p>Thread-safety: {@link #resyncing} runs on the receive thread, {@link #slotDied} and
 * {@link #slotLeft} on the lockspace's callback thread (they never block), {@link #readWindow} on the assembling thread;
 * they meet only in {@link ResyncWindows}, which is thread-safe.
 */
final class PeerResyncs {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final Mddev array;
    private final ResyncWindows windows;
    private final WaitingForSync waiting;
    private final Duration drainBound;

    /** @param drainBound the channel's handler bound: the drain ends before the sender's ack wait */
    PeerResyncs(Mddev array, Duration drainBound) {
        this.array = array;
        this.windows = new ResyncWindows(array::suspendedRangeChanged);
        this.waiting = new WaitingForSync(array);
        this.drainBound = drainBound;
    }

    /** The peers' windows, for the data path's {@code areaResyncing}. */
    ResyncWindows windows() {
        return windows;
    }

    /** Whether a peer's new spare waits for a sync to start (md's MD_CLUSTER_WAITING_FOR_SYNC). */
    WaitingForSync waiting() {
        return waiting;
    }

    /** RESYNCING_START from {@code slot}: a pass started there (md's process_recvd_msg clears the wait). */
    void resyncStarted(int slot) {
        waiting.syncStarted(slot, "RESYNCING_START");
    }

    /**
     * RESYNCING(lo, hi) from {@code slot}: its window is {@code [lo, hi)} from now on (writes
     * there wait from this moment), then the writes this node has in flight there are drained.
     * The caller acknowledges afterwards, also when the drain ran out (the exception is logged
     * and acknowledged, as md does: the sender must not wait for ever).
     */
    void resyncing(int slot, long lo, long hi) throws Raid1Exception {
        boolean changed = windows.set(slot, lo, Math.max(lo, hi));
        if (hi <= lo) {
            waiting.syncStarted(slot, "RESYNCING(0, 0)"); // md's process_suspend_info with hi == 0
            if (changed) {
                log.info("{}: slot {} ended its resync", array.name(), slot);
                // md sets MD_RECOVERY_NEEDED: what waited for the peer's pass may start now
                array.requestRecovery();
            }
            return;
        }
        log.debug("{}: slot {} resyncs [{}, {})", array.name(), slot, lo, hi);
        // an unchanged window was drained when it was first received
        if (changed) array.drainRange(lo, hi, drainBound);
    }

    /**
     * md's recover_slot drops the dead slot's window: the writers waiting there go on. The dead
     * node's dirty bits are resynced by whoever recovers its slot, under a window of its own.
     */
    void slotDied(int slot) {
        waiting.slotDied(slot);
        if (windows.clear(slot))
            log.info("{}: slot {} died while resyncing: its window is cleared", array.name(), slot);
    }

    /**
     * {@code slot}'s member left gracefully (its lockspace closed): a peer whose NEWDISK held
     * spares back starts no sync now. Its window, if any, was ended by its (0, 0) at close.
     */
    void slotLeft(int slot) {
        waiting.slotLeft(slot);
    }

    /**
     * md's read_resync_info at load: a live owner's window, from its bitmap lock's value block
     * read in CR (compatible with the owner's PW). {@code probe} is that slot's lock, not held;
     * the caller releases it. A window published before this node armed its ack is seen here; a
     * later one comes as RESYNCING, handled once loading is over.
     */
    void readWindow(LockResource probe, int slot) throws DlmException {
        LockGrant g = probe.convert(LockMode.CR);
        ResyncInfo info = ResyncInfo.from(g.valueBlock());
        if (!info.isWindow()) return;
        windows.set(slot, info.lo(), info.hi());
        log.info("{}: slot {} is resyncing [{}, {}) (from its bitmap lock)", array.name(), slot, info.lo(), info.hi());
    }
}
