package org.clustermd.raid1.resync;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * md_do_sync's speed control, as the 2015 change ("md: be more aggressive about throttling
 * resync") left it: below {@code sync_speed_min} the sync never waits; above
 * {@code sync_speed_max} it sleeps; in between it yields to foreground I/O by waiting until the
 * requests in flight have completed, so the delay follows the speed of the devices instead of a
 * fixed target speed (docs/lessons.md §24). What a yield waits for is the sync pass's business: after the
 * pending requests it also lets {@code syncYieldRequests} foreground requests through (see
 * {@code SyncPass.yieldToForeground}), which keeps the resync out of a busy writer's p99.
 *
 * <p>Another node's foreground I/O cannot be counted here, only known to exist (the cluster's
 * {@code peersBusy}). While it does, the sync keeps to {@code sync_speed_min}, md's rule before
 * the 2015 change (docs/md-cluster-protocol.md §e.9).
 *
 * <p>Speed is measured over a sliding window of {@link #MARKS} marks taken every
 * {@link #MARK_STEP_NANOS} (md: 10 marks, 3 s apart), from the sectors of I/O the sync has
 * submitted (skipped chunks do not count, as md counts {@code io_sectors}, not progress; counted
 * at submission as md does, so that a pipeline of requests cannot pass the maximum before its
 * first completion: docs/lessons.md §68).
 *
 * <p>Not thread-safe except the speed limits and {@link #currentSpeed()}, which any thread may
 * use: the sync thread owns the rest.
 */
public final class SyncThrottle {
    /** md's SYNC_MARKS. */
    public static final int MARKS = 10;
    /** Interval between marks (md: 3 s); shorter so speed limits react quickly. */
    public static final long MARK_STEP_NANOS = TimeUnit.MILLISECONDS.toNanos(500);
    /** md's default sync_speed_min, KiB/s. */
    public static final long DEFAULT_SPEED_MIN = 1_000;
    /** md's default sync_speed_max, KiB/s. */
    public static final long DEFAULT_SPEED_MAX = 200_000;
    /** The longest single sleep above the maximum speed (md sleeps 500 ms). */
    public static final long MAX_SLEEP_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

    private static final long MIN_ELAPSED_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    /** What the sync thread should do before issuing its next request. */
    public enum Decision {
        /** Go on at full speed. */
        GO,
        /**
         * Above sync_speed_max, or above sync_speed_min while a peer is busy: sleep
         * {@link #sleepNanos()} and ask again.
         */
        SLEEP,
        /** Foreground I/O is active and the minimum is met: wait for requests in flight to complete. */
        YIELD
    }

    private final LongSupplier clock;
    private volatile long speedMin = DEFAULT_SPEED_MIN;
    private volatile long speedMax = DEFAULT_SPEED_MAX;
    private final long[] markTime = new long[MARKS];
    private final long[] markSectors = new long[MARKS];
    private int lastMark;
    private volatile long ioSectors;
    private long sleepNanos;
    private volatile long speedNow;

    /** @param clock nanosecond time source ({@code System::nanoTime} in production) */
    public SyncThrottle(LongSupplier clock) {
        this.clock = clock;
        reset();
    }

    /** Starts a new pass: forgets all marks. */
    public void reset() {
        long now = clock.getAsLong();
        for (int i = 0; i < MARKS; i++) {
            markTime[i] = now;
            markSectors[i] = 0;
        }
        lastMark = 0;
        ioSectors = 0;
        speedNow = 0;
    }

    /** The sync submitted {@code sectors} more sectors of I/O. */
    public void account(long sectors) {
        ioSectors += sectors;
    }

    /** {@link #decide(boolean, boolean)} with no peer busy (an array alone). */
    public Decision decide(boolean foregroundIdle) {
        return decide(foregroundIdle, false);
    }

    /**
     * Decides what to do next.
     *
     * @param foregroundIdle true when no foreground request started since the last call and none
     *     is in flight (md's {@code is_mddev_idle})
     * @param peersBusy true when another node of a clustered array does foreground I/O on the
     *     legs: the sync then sleeps down to sync_speed_min
     */
    public Decision decide(boolean foregroundIdle, boolean peersBusy) {
        long now = clock.getAsLong();
        if (now - markTime[lastMark] >= MARK_STEP_NANOS) {
            // step the window: the oldest mark is replaced by now
            int next = (lastMark + 1) % MARKS;
            lastMark = next;
            markTime[next] = now;
            markSectors[next] = ioSectors;
        }
        int oldest = (lastMark + 1) % MARKS;
        long elapsed = Math.max(now - markTime[oldest], MIN_ELAPSED_NANOS);
        long sectors = ioSectors - markSectors[oldest];
        long kib = sectors / 2;
        long speed = kib * 1_000_000_000L / elapsed;
        speedNow = speed;
        long min = speedMin;
        if (peersBusy) {
            // a peer's requests cannot be waited for one by one as local ones are: slow to the
            // minimum, measured since the mark before the last, so that a pass that was paused or
            // idle has no credit to spend in a burst against the peer's writes
            int prev = (lastMark + MARKS - 1) % MARKS;
            long recentElapsed = Math.max(now - markTime[prev], MIN_ELAPSED_NANOS);
            long recentKib = (ioSectors - markSectors[prev]) / 2;
            if (recentKib * 1_000_000_000L / recentElapsed <= min) return Decision.GO;
            return sleepDownTo(min, recentKib, recentElapsed);
        }
        if (speed <= min) return Decision.GO;
        if (speed > speedMax) return sleepDownTo(speedMax, kib, elapsed);
        return foregroundIdle ? Decision.GO : Decision.YIELD;
    }

    /** A SLEEP long enough for {@code kib} over {@code elapsed} to come down to {@code limit} KiB/s. */
    private Decision sleepDownTo(long limit, long kib, long elapsed) {
        long needed = limit <= 0 ? MAX_SLEEP_NANOS : kib * 1_000_000_000L / limit - elapsed;
        sleepNanos = Math.max(TimeUnit.MILLISECONDS.toNanos(1), Math.min(needed, MAX_SLEEP_NANOS));
        return Decision.SLEEP;
    }

    /** How long to sleep after a {@link Decision#SLEEP}. */
    public long sleepNanos() {
        return sleepNanos;
    }

    /** md's {@code sync_speed}: KiB/s over the mark window, as of the last decision. */
    public long currentSpeed() {
        return speedNow;
    }

    /** KiB/s below which the sync never yields. */
    public long speedMin() {
        return speedMin;
    }

    /** KiB/s above which the sync sleeps. */
    public long speedMax() {
        return speedMax;
    }

    /** Sets sync_speed_min (KiB/s, {@code >= 0}). */
    public void speedMin(long kib) {
        if (kib < 0) throw new IllegalArgumentException("sync_speed_min must be >= 0: " + kib);
        this.speedMin = kib;
    }

    /** Sets sync_speed_max (KiB/s, {@code >= 1}). */
    public void speedMax(long kib) {
        if (kib < 1) throw new IllegalArgumentException("sync_speed_max must be >= 1: " + kib);
        this.speedMax = kib;
    }
}
