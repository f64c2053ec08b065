package org.clustermd.raid1.io;

/**
 * How {@link BlockDevices#open} opens a device.
 *
 * <p>Immutable; thread-safe.
 *
 * @param direct open with O_DIRECT (the default; bypasses the page cache so the leg sees every
 *     write and a flush means the same thing as on the array). Without it, buffered I/O: only
 *     for file systems that refuse O_DIRECT (tmpfs before Linux 6.6); alignment rules still apply.
 * @param engine how async requests are kept in flight; {@code null} picks {@link IoEngine#AIO}
 *     when it is available and {@code direct} is set, else {@link IoEngine#THREADS}
 * @param queueDepth the most async requests in flight on this device at once (AIO slots or I/O
 *     threads); more requests wait for a free slot, like a full block-layer queue
 * @param minimumSize the smallest acceptable device size in bytes; a smaller device fails to open
 *     with {@link BlockDeviceException.Code#DEVICE_TOO_SMALL}
 * @param readOnly open O_RDONLY; writes and flushes fail with {@link BlockDeviceException.Code#READ_ONLY}
 */
public record BlockDeviceOptions(boolean direct, IoEngine engine, int queueDepth, long minimumSize, boolean readOnly) {

    /** Default queue depth: matches the fio peer's iodepth=32 with room for resync traffic. */
    public static final int DEFAULT_QUEUE_DEPTH = 64;

    public BlockDeviceOptions {
        if (queueDepth < 1 || queueDepth > 4096) {
            throw new IllegalArgumentException("queueDepth must be 1..4096: " + queueDepth);
        }
        if (minimumSize < 0) {
            throw new IllegalArgumentException("minimumSize must be >= 0: " + minimumSize);
        }
    }

    /** O_DIRECT, engine chosen automatically, default queue depth, any size, read-write. */
    public static BlockDeviceOptions defaults() {
        return new BlockDeviceOptions(true, null, DEFAULT_QUEUE_DEPTH, 0, false);
    }

    public BlockDeviceOptions withDirect(boolean d) {
        return new BlockDeviceOptions(d, engine, queueDepth, minimumSize, readOnly);
    }

    public BlockDeviceOptions withEngine(IoEngine e) {
        return new BlockDeviceOptions(direct, e, queueDepth, minimumSize, readOnly);
    }

    public BlockDeviceOptions withQueueDepth(int q) {
        return new BlockDeviceOptions(direct, engine, q, minimumSize, readOnly);
    }

    public BlockDeviceOptions withMinimumSize(long bytes) {
        return new BlockDeviceOptions(direct, engine, queueDepth, bytes, readOnly);
    }

    public BlockDeviceOptions withReadOnly(boolean ro) {
        return new BlockDeviceOptions(direct, engine, queueDepth, minimumSize, ro);
    }
}
