package org.clustermd.raid1.io;

/**
 * A snapshot of one device's I/O counters in {@code /proc/diskstats} terms (see the kernel's
 * Documentation/admin-guide/iostats.rst). Sectors are 512 bytes whatever the logical block size.
 *
 * <p>Counters only grow, except {@code inFlight}, which must return to 0 whenever the device is
 * idle (docs/lessons.md §26b).
 *
 * <p>Immutable; thread-safe.
 *
 * @param readsCompleted reads completed (successfully or not)
 * @param sectorsRead 512-byte sectors read successfully
 * @param readTicksMs milliseconds spent by all reads (sum of their durations)
 * @param writesCompleted writes completed (successfully or not)
 * @param sectorsWritten 512-byte sectors written successfully
 * @param writeTicksMs milliseconds spent by all writes
 * @param flushesCompleted flush requests completed
 * @param flushTicksMs milliseconds spent by all flushes
 * @param inFlight requests issued and not yet completed
 * @param ioTicksMs milliseconds during which at least one request was in flight
 * @param timeInQueueMs weighted milliseconds: the sum of every request's duration
 * @param errors requests that completed with an error
 */
public record DiskStats(
        long readsCompleted,
        long sectorsRead,
        long readTicksMs,
        long writesCompleted,
        long sectorsWritten,
        long writeTicksMs,
        long flushesCompleted,
        long flushTicksMs,
        int inFlight,
        long ioTicksMs,
        long timeInQueueMs,
        long errors) {

    /** All counters zero. */
    public static final DiskStats ZERO = new DiskStats(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
}
