package org.clustermd.raid1;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;

/**
 * One member device and what the engine counts about it while it belongs to the array: the
 * identity that survives every {@link MirrorSet} version (md's {@code struct md_rdev} minus the
 * flags, which are {@link Mirror}'s).
 *
 * <p>Thread-safe: the counters are atomics; the rest is final.
 */
final class Leg {
    final BlockDevice device;
    /** desc_nr: the index of this device in dev_roles. */
    final int devNumber;

    final UUID deviceUuid;
    final long dataOffsetBytes;
    /** Reads in flight on this leg (read balancing: least pending). */
    final AtomicInteger pendingReads = new AtomicInteger();
    /** The sector after the last read issued here (read balancing: sequential affinity). */
    volatile long headPosition = -1;
    /** md's rdev->corrected_errors / cnt_corrected_read. */
    final AtomicLong correctedReads;
    /** I/O errors seen on this leg (read or write). */
    final AtomicLong errors = new AtomicLong();

    Leg(BlockDevice device, int devNumber, UUID deviceUuid, long dataOffsetBytes, long correctedReads) {
        this.device = device;
        this.devNumber = devNumber;
        this.deviceUuid = deviceUuid;
        this.dataOffsetBytes = dataOffsetBytes;
        this.correctedReads = new AtomicLong(correctedReads);
    }

    /** The leg {@code device} is, as its own superblock {@code own} describes it. */
    static Leg of(BlockDevice device, Superblock own) {
        return new Leg(
                device,
                own.devNumber(),
                own.deviceUuid(),
                own.dataOffset() * BlockDevice.SECTOR_SIZE,
                own.cntCorrectedRead());
    }

    String name() {
        return device.name();
    }

    @Override
    public String toString() {
        return device.name() + "#" + devNumber;
    }
}
