package org.clustermd.dlm;

import java.time.Duration;

/**
 * Runs a lock operation again when the lock manager refused it only because this member's lease
 * had lapsed ({@link DlmException.Code#SUSPENDED}: a renewal was missed, nothing was done, and
 * the same session often comes back a moment later). The operation is retried once
 * {@link LockSpace#awaitLease} says the lease is valid again, until a deadline; any other
 * refusal, a lease that does not come back (LOST, CLOSED, the deadline) or an interrupt ends it
 * with the last refusal. The one place the callers' "retry when leased" rule lives.
 *
 * <p>Stateless and thread-safe.
 */
public final class WhenLeased {
    /** One attempt; {@code left} is what remains of the deadline (at least 1 ns). */
    @FunctionalInterface
    public interface Attempt<T> {
        T run(Duration left) throws DlmException;
    }

    private WhenLeased() {}

    /**
     * Runs {@code attempt} until it succeeds, is refused for another reason, or
     * {@code deadlineNanos} ({@link System#nanoTime()}) passes; {@code onLapse} runs before each
     * wait for the lease (for a log line).
     */
    public static <T> T retry(LockSpace ls, long deadlineNanos, Runnable onLapse, Attempt<T> attempt)
            throws DlmException {
        while (true) {
            try {
                return attempt.run(Duration.ofNanos(Math.max(1, deadlineNanos - System.nanoTime())));
            } catch (DlmException e) {
                long left = deadlineNanos - System.nanoTime();
                if (e.code() != DlmException.Code.SUSPENDED || left <= 0) throw e;
                onLapse.run();
                try {
                    if (!ls.awaitLease(Duration.ofNanos(left))) throw e;
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }
}
