package org.clustermd.cluster;

import java.util.ArrayList;
import java.util.List;
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
    static void update(Mddev array, LockSpace ls, MessageChannel channel, WriteIntentBitmap bitmap, long sectors)
            throws Raid1Exception {
        if (bitmap == null) throw refused(array, "a clustered array needs its bitmap");
        try (SendPermit p = channel.lockComm()) {
            List<String> behind = slotsBehind(array, ls, bitmap, sectors);
            if (!behind.isEmpty()) {
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
        }
    }

    /** What each slot that does not record {@code sectors} says, free slots resized first. */
    private static List<String> slotsBehind(Mddev array, LockSpace ls, WriteIntentBitmap bitmap, long sectors)
            throws Raid1Exception {
        List<String> behind = new ArrayList<>();
        long own = bitmap.geometry().syncSize();
        if (own != sectors) behind.add("our " + new NodeSlot(bitmap.slot()) + " records " + own + " sectors");
        for (int other = 0; other < ls.slotCount(); other++) {
            if (other == bitmap.slot()) continue;
            NodeSlot slot = new NodeSlot(other);
            try (LockResource probe = ls.resource(slot.bitmapLockName())) {
                boolean free;
                try {
                    probe.tryConvert(LockMode.PW);
                    free = true;
                } catch (DlmException e) {
                    if (e.code() != DlmException.Code.NOT_GRANTED) throw e;
                    free = false; // a live node owns it and resized it itself, or could not
                }
                if (free) {
                    ResyncInfo.clearIn(probe); // docs/lessons.md §39: released with (0, 0)
                    SlotSizes.resizeFree(bitmap, other, sectors);
                }
                long theirs = SlotSizes.syncSize(bitmap, other);
                if (theirs != sectors) {
                    behind.add((free ? "free " : "live ") + slot + " records " + theirs + " sectors");
                }
            } catch (DlmException e) {
                behind.add("probing " + slot.bitmapLockName() + " failed: " + e.getMessage());
            } catch (BitmapException e) {
                behind.add(slot + ": " + e.getMessage());
            }
        }
        return behind;
    }

    private static Raid1Exception refused(Mddev array, String message) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, array.name() + ": " + message);
    }
}
