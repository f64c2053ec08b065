package org.clustermd.cluster;

import java.time.Duration;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.bitmap.SlotSizes;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.WhenLeased;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code gather_all_resync_info} at bitmap load (docs/md-cluster-protocol.md §c.4): every other
 * slot's bitmap lock is probed with PW+NOQUEUE. A live owner's slot is read in CR for its resync
 * window, in its LVB ({@link PeerResyncs#readWindow}). A free slot's bits are merged
 * into ours without clearing them, and the array's resync point is lowered to the first of them:
 * whatever a node that is gone left dirty is resynced here.
 *
 * <p>Stateless and thread-safe.
 */
final class SlotGather {
    private static final Logger log = LoggerFactory.getLogger(SlotGather.class);

    private SlotGather() {}

    /**
     * @param peers where a live owner's resync window, read from its LVB, is recorded
     * @param leaseWait how long a probe refused because the lease lapsed (SUSPENDED) waits for it
     *     to be renewed before the probe fails the load (the join's connection timeout)
     */
    static void gather(LockSpace ls, WriteIntentBitmap bitmap, Mddev array, PeerResyncs peers, Duration leaseWait)
            throws Raid1Exception {
        long deadline = System.nanoTime() + leaseWait.toNanos();
        for (int other = 0; other < ls.slotCount(); other++) {
            if (other == bitmap.slot()) continue;
            NodeSlot slot = new NodeSlot(other);
            try (LockResource probe = ls.resource(slot.bitmapLockName())) {
                try {
                    tryPwWhenLeased(ls, probe, deadline, array.name());
                } catch (DlmException e) {
                    if (e.code() != DlmException.Code.NOT_GRANTED) throw e;
                    peers.readWindow(probe, other); // a live node owns it: its resync window, if any
                    continue;
                }
                ResyncInfo.clearIn(probe); // a window left by a node that is gone is over
                matchOurSize(array, bitmap, other);
                SlotCopy copy = bitmap.copyFromSlot(other, false);
                if (copy.foundDirty()) {
                    log.info(
                            "{}: free {} has {} dirty chunks: merged for resync",
                            array.name(),
                            slot,
                            copy.dirtyChunks());
                    array.lowerRecoveryCp(copy.dirtyRange().start());
                }
                fillGaps(array, other); // held in PW: nobody writes the free slot (docs/lessons.md §57)
            } catch (DlmException e) {
                throw new Raid1Exception(
                        Raid1Exception.Code.CLUSTER,
                        array.name() + ": probing " + slot.bitmapLockName() + " failed: " + e.getMessage(),
                        e);
            } catch (BitmapException e) {
                // md logs and skips an unreadable slot; we cannot know what it covered, so refuse
                throw new Raid1Exception(
                        Raid1Exception.Code.CLUSTER,
                        array.name() + ": reading bitmap " + slot + " failed: " + e.getMessage(),
                        e);
            }
        }
    }

    /**
     * A free slot at another size than ours is what a grow left whose nodes died before it was
     * finished (docs/lessons.md §62, §65): its grower's own slot, or one its step 4 did not reach.
     * Ours follows the superblock since our join, and no grow gets past its step 3 before we
     * handle messages, so the free slot is made to record our size, its bits kept up to there.
     * Otherwise its merge fails on the size and every node that joins is refused, for good.
     */
    private static void matchOurSize(Mddev array, WriteIntentBitmap bitmap, int slot) throws BitmapException {
        long ours = bitmap.geometry().syncSize();
        long theirs = SlotSizes.syncSize(bitmap, slot);
        if (theirs == ours) return;
        log.warn(
                "{}: free bitmap slot {} records {} sectors, ours {}: a grow did not finish (its node died); resized to"
                        + " ours",
                array.name(),
                slot,
                theirs,
                ours);
        SlotSizes.resizeFree(bitmap, slot, ours);
    }

    /**
     * A leg admitted while the free slot's owner lived may lack the slot; copied now. A copy that
     * fails leaves the gap, still read around, to the slot's next owner: the join goes on.
     */
    private static void fillGaps(Mddev array, int slot) {
        try {
            array.fillSkippedSlot(slot);
        } catch (Raid1Exception e) {
            log.warn("{}: {}", array.name(), e.getMessage());
        }
    }

    /**
     * The probe's PW+NOQUEUE conversion. A refusal because the lease lapsed (SUSPENDED: a busy
     * machine may miss a renewal while the node starts, and the same session comes back a moment
     * later) is tried again once the lease is valid, until {@code deadline}, as the join's own
     * conversions are: nothing of the other slot is held yet, so a later probe is as good.
     */
    private static void tryPwWhenLeased(LockSpace ls, LockResource probe, long deadline, String arrayName)
            throws DlmException {
        WhenLeased.retry(
                ls,
                deadline,
                () -> log.warn(
                        "{}: probing {} refused while the lease lapsed; waiting for it to be renewed",
                        arrayName,
                        probe.name()),
                left -> probe.tryConvert(LockMode.PW));
    }
}
