package org.clustermd.cluster;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.SlotSizes;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.cluster.message.SendPermit;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md-cluster's {@code update_size} after the grower wrote the superblocks with the new size
 * (docs/md-cluster-protocol.md §f.7): under {@code token} EX, md's
 * {@code cluster_check_sync_size} (every other slot's bitmap must record the new
 * {@code sync_size}: a free slot, whose bitmap lock PW+NOQUEUE is granted, is resized here; a
 * live owner resized its own when it reloaded the superblock), then CHANGE_CAPACITY, on which
 * every peer lets requests reach the new size. A slot that does not cover it refuses the grow
 * before any node could write beyond the old end (docs/lessons.md §13).
 *
 * <p>Stateless and thread-safe; one call per grow, on the grower's admin thread.
 */
final class CapacityChange {
    private static final Logger log = LoggerFactory.getLogger(CapacityChange.class);

    private CapacityChange() {}

    /** See {@link ClusterCoordinator#updateSize}. */
    static void update(
            Mddev array,
            LockSpace ls,
            TokenPermits permits,
            MessageChannel channel,
            WriteIntentBitmap bitmap,
            long oldSectors,
            long sectors)
            throws Raid1Exception {
        if (bitmap == null) throw refused(array, "a clustered array needs its bitmap");
        // under the token the grow took for its prepare, so no node joins in between (docs/lessons.md §61)
        permits.withSizePermit(p -> check(array, ls, channel, p, bitmap, oldSectors, sectors));
    }

    private static void check(
            Mddev array,
            LockSpace ls,
            MessageChannel channel,
            SendPermit p,
            WriteIntentBitmap bitmap,
            long oldSectors,
            long sectors)
            throws Raid1Exception {
        Map<Integer, LockResource> free = new LinkedHashMap<>();
        try {
            List<String> behind = slotsBehind(array, ls, bitmap, sectors, free);
            if (!behind.isEmpty()) {
                // the free slots go back too: a refused grow leaves every slot as it was (docs/lessons.md §48)
                for (int slot : free.keySet()) resizeFree(array, bitmap, slot, oldSectors);
                throw refused(
                        array,
                        "growing to " + sectors + " sectors refused: " + String.join("; ", behind)
                                + " (each node resizes its own slot when it reloads the superblock; see its log)");
            }
            try {
                channel.send(p, new ClusterMessage.ChangeCapacity());
            } catch (Raid1Exception e) {
                // every slot covers the new size by now: md logs this and sets its capacity all the same
                log.error("{}: CHANGE_CAPACITY for {} sectors failed: {}", array.name(), sectors, e.getMessage());
            }
        } finally {
            for (LockResource f : free.values()) f.close();
        }
    }

    /**
     * What each slot that does not record {@code sectors} says. A free slot is resized here and
     * its bitmap lock, held in PW, added to {@code free}, for the caller to release.
     */
    private static List<String> slotsBehind(
            Mddev array, LockSpace ls, WriteIntentBitmap bitmap, long sectors, Map<Integer, LockResource> free)
            throws Raid1Exception {
        List<String> behind = new ArrayList<>();
        long own = bitmap.geometry().syncSize();
        if (own != sectors) behind.add("our slot " + bitmap.slot() + " records " + own + " sectors");
        for (int other = 0; other < ls.slotCount(); other++) {
            if (other == bitmap.slot()) continue;
            String lock = new NodeSlot(other).bitmapLockName();
            LockResource probe = null;
            try {
                probe = ls.resource(lock);
                boolean isFree;
                try {
                    probe.tryConvert(LockMode.PW);
                    isFree = true;
                } catch (DlmException e) {
                    if (e.code() != DlmException.Code.NOT_GRANTED) throw e;
                    isFree = false; // a live node owns it and resized it itself, or could not
                }
                if (isFree) {
                    ResyncInfo.clearIn(probe); // docs/lessons.md §39: released with (0, 0)
                    free.put(other, probe);
                    probe = null; // held until the check is over, released by the caller
                    SlotSizes.resizeFree(bitmap, other, sectors);
                }
                long theirs = SlotSizes.syncSize(bitmap, other);
                if (theirs != sectors) {
                    behind.add((isFree ? "free slot " : "live slot ") + other + " records " + theirs + " sectors");
                }
            } catch (DlmException e) {
                behind.add("probing " + lock + " failed: " + e.getMessage());
            } catch (BitmapException e) {
                behind.add("slot " + other + ": " + e.getMessage());
            } finally {
                if (probe != null) probe.close();
            }
        }
        return behind;
    }

    private static void resizeFree(Mddev array, WriteIntentBitmap bitmap, int slot, long sectors) {
        try {
            SlotSizes.resizeFree(bitmap, slot, sectors);
        } catch (BitmapException e) {
            log.error(
                    "{}: putting free slot {} back to {} sectors failed: {}",
                    array.name(),
                    slot,
                    sectors,
                    e.getMessage());
        }
    }

    private static Raid1Exception refused(Mddev array, String message) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, array.name() + ": " + message);
    }
}
