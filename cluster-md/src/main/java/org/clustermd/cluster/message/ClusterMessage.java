package org.clustermd.cluster.message;

import java.util.Objects;
import java.util.UUID;
import org.clustermd.raid1.sb.Superblock;

/**
 * One md-cluster message (md's {@code struct cluster_msg} without its sender slot, which the
 * channel stamps on every send: see {@link Envelope}). Sectors are 512 bytes; device numbers are
 * {@code desc_nr}, the index into the superblock's {@code dev_roles}.
 */
public sealed interface ClusterMessage {

    MessageType type();

    /** The superblock changed: reload it from device {@code devNumber}, a good (in-sync) leg. */
    record MetadataUpdated(int devNumber) implements ClusterMessage {
        public MetadataUpdated {
            checkDevNumber(devNumber);
        }

        @Override
        public MessageType type() {
            return MessageType.METADATA_UPDATED;
        }
    }

    /** The sender resyncs {@code [lo, hi)} next; {@code (0, 0)} ends its resync. */
    record Resyncing(long lo, long hi) implements ClusterMessage {
        public Resyncing {
            if (lo < 0 || hi < lo) throw new IllegalArgumentException("bad resync window [" + lo + ", " + hi + ")");
        }

        @Override
        public MessageType type() {
            return MessageType.RESYNCING;
        }
    }

    /** The sender adds the device whose superblock carries {@code deviceUuid} as {@code devNumber}. */
    record NewDisk(UUID deviceUuid, int devNumber) implements ClusterMessage {
        public NewDisk {
            Objects.requireNonNull(deviceUuid, "deviceUuid");
            checkDevNumber(devNumber);
        }

        @Override
        public MessageType type() {
            return MessageType.NEWDISK;
        }
    }

    /** The sender removed device {@code devNumber}. */
    record Remove(int devNumber) implements ClusterMessage {
        public Remove {
            checkDevNumber(devNumber);
        }

        @Override
        public MessageType type() {
            return MessageType.REMOVE;
        }
    }

    /** The sender re-adds faulty device {@code devNumber}: write to it again. */
    record ReAdd(int devNumber) implements ClusterMessage {
        public ReAdd {
            checkDevNumber(devNumber);
        }

        @Override
        public MessageType type() {
            return MessageType.RE_ADD;
        }
    }

    /** The sender leaves with resync work left in its slot: take the slot over as after a death. */
    record BitmapNeedsSync() implements ClusterMessage {
        @Override
        public MessageType type() {
            return MessageType.BITMAP_NEEDS_SYNC;
        }
    }

    /** Every slot's bitmap has the new size: set the array capacity from the reloaded superblock. */
    record ChangeCapacity() implements ClusterMessage {
        @Override
        public MessageType type() {
            return MessageType.CHANGE_CAPACITY;
        }
    }

    /** RAID10 only (received, never sent here): resize this node's bitmap to {@code sizeSectors}. */
    record BitmapResize(long sizeSectors) implements ClusterMessage {
        public BitmapResize {
            if (sizeSectors < 0) throw new IllegalArgumentException("negative bitmap size " + sizeSectors);
        }

        @Override
        public MessageType type() {
            return MessageType.BITMAP_RESIZE;
        }
    }

    /** The sender took the resync lock: peers stop waiting for a sync of a new spare. */
    record ResyncingStart() implements ClusterMessage {
        @Override
        public MessageType type() {
            return MessageType.RESYNCING_START;
        }
    }

    private static void checkDevNumber(int devNumber) {
        if (devNumber < 0 || devNumber >= Superblock.MAX_MAX_DEV) {
            throw new IllegalArgumentException(
                    "device number " + devNumber + " is outside [0, " + Superblock.MAX_MAX_DEV + ")");
        }
    }
}
