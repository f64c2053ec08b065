package org.clustermd.raid1;

import java.util.concurrent.TimeUnit;

/**
 * When the md thread tries again a sync pass the lock manager refused (a resync lock not granted,
 * a RESYNCING a peer did not acknowledge, a session in doubt): a second later, doubled at each
 * refusal in a row up to 30 s, so a peer that keeps refusing is not hammered every second, and a
 * refusal never stops syncs for good as a failure would (docs/lessons.md §37).
 *
 * <p>Owned by {@link SyncControl}; written under its lock. {@link #inARow} is also read by tests
 * without it.
 */
final class RefusalBackoff {
    private static final long FIRST_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long CAP_NANOS = TimeUnit.SECONDS.toNanos(30);

    /** When the last pass was refused (0: no retry is pending). */
    private long refusedAt;

    private volatile int inARow;

    /** The wait after {@code inARow} refused passes: 1 s, doubled, at most 30 s. */
    static long retryAfter(int inARow) {
        return Math.min(CAP_NANOS, FIRST_NANOS << Math.min(Math.max(0, inARow - 1), 5));
    }

    /** A pass was refused at {@code now}: a retry is due after the backoff. */
    void refused(long now) {
        refusedAt = Math.max(1, now);
        inARow++;
    }

    /** A pass ran (completed, stopped or failed on its own): the next refusal waits a second again. */
    void ran() {
        inARow = 0;
    }

    /** A pass starts for another reason: the pending retry is not needed any more. */
    void cancel() {
        refusedAt = 0;
    }

    /** Whether the pending retry is due at {@code now}; consumes it when it is. */
    boolean due(long now) {
        if (refusedAt == 0 || now - refusedAt < retryAfter(inARow)) return false;
        refusedAt = 0;
        return true;
    }

    /** Passes refused in a row (0 once a pass ran). */
    int inARow() {
        return inARow;
    }
}
