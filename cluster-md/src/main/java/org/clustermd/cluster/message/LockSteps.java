package org.clustermd.cluster.message;

import java.time.Duration;
import java.util.List;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.WhenLeased;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the channel's two sides take their lock steps: one conversion within a bound, retried
 * when refused only because the lease had lapsed; several in one write where md's steps follow
 * each other without waiting for a peer (md-cluster-protocol §b.8), or one at a time when that
 * write was not made or, having been made, ended SUSPENDED (settled first: docs/lessons.md §69);
 * and the release of {@code message} that the receivers' PR waits for.
 *
 * <p>Thread-safe.
 */
final class LockSteps {
    private static final Logger log = LoggerFactory.getLogger(MessageChannel.class);
    private static final int RELEASE_ATTEMPTS = 3;

    private final String arrayName;
    private final LockSpace lockSpace;
    private final LockResource message;
    private final Duration bound;

    LockSteps(String arrayName, LockSpace lockSpace, LockResource message, Duration bound) {
        this.arrayName = arrayName;
        this.lockSpace = lockSpace;
        this.message = message;
        this.bound = bound;
    }

    /**
     * A conversion within {@code bound}. One that the lock manager refused because this node's
     * lease had lapsed (SUSPENDED: a renewal was missed, nothing was done) is tried again once
     * the lease is valid, within the same bound; LOST or CLOSED ends it.
     */
    LockGrant convert(LockResource r, LockMode mode, Duration bound) throws DlmException {
        return WhenLeased.retry(
                lockSpace, System.nanoTime() + bound.toNanos(), () -> {}, left -> r.convert(mode, left));
    }

    boolean alive() {
        LockSpaceState s = lockSpace.state();
        return s != LockSpaceState.LOST && s != LockSpaceState.CLOSED;
    }

    /**
     * The conversions in one write ({@link LockSpace#convertJointly}), or one at a time in the
     * order given when that write was not made: a step refused as not at once, or while the
     * lease had lapsed, is taken alone, as md takes it. A joint request that may have written
     * before it failed is settled first ({@link #settle}), so that the caller acts on what each
     * lock holds: one that ended SUSPENDED goes on one lock at a time from there, a lock already
     * in its mode (granted by the write) needing no step; any other failure is thrown, each
     * lock's {@code grantedMode()} telling what it holds.
     */
    void jointly(Duration bound, Conversion... conversions) throws DlmException {
        List<Conversion> all = List.of(conversions);
        boolean settled = false;
        try {
            lockSpace.convertJointly(all, bound);
            return;
        } catch (DlmException e) {
            if (!wroteNothing(e)) {
                boolean known = settle(bound, all);
                if (e.code() != DlmException.Code.SUSPENDED || !known) throw e;
                settled = true;
            }
        }
        for (Conversion c : conversions) {
            if (settled && c.lock().grantedMode().orElse(null) == c.mode()) continue;
            convert(c.lock(), c.mode(), bound);
        }
    }

    /**
     * A joint request refused before it wrote: not at once, or a lock with a request pending or
     * already holding the write mode it asks for. Every other failure may come after the write
     * committed, SUSPENDED included: a grant of the write whose completion reached this node
     * after its lease lapsed is refused, the lock held all the same (docs/lessons.md §69).
     */
    static boolean wroteNothing(DlmException e) {
        return e.code() == DlmException.Code.NOT_GRANTED || e.code() == DlmException.Code.INVALID_REQUEST;
    }

    /**
     * After a joint request that may have written: waits, within {@code bound}, for the lease to
     * be valid again and then for each of its locks to have no request pending (a cancel of a
     * part still waiting is written only once the lockspace is ACTIVE, and may lose to the
     * grant), so that each lock's {@code grantedMode()} is what it holds. False when that could
     * not be learned: the lockspace is LOST or CLOSED (nothing is held any more), or the lease
     * or a request did not come back in time.
     */
    boolean settle(Duration bound, List<Conversion> conversions) {
        long deadline = System.nanoTime() + bound.toNanos();
        try {
            if (!lockSpace.awaitLease(bound)) return false;
            for (Conversion c : conversions) {
                if (!c.lock().awaitNoRequest(Duration.ofNanos(Math.max(1, deadline - System.nanoTime())))) {
                    log.error(
                            "{}: {} still has a request pending {} ms after a joint request failed",
                            arrayName,
                            c.lock().name(),
                            bound.toMillis());
                    return false;
                }
            }
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    // the receivers' PR waits for this; md retries it until it succeeds
    void releaseMessage() {
        for (int attempt = 1; ; attempt++) {
            try {
                convert(message, LockMode.NL, bound);
                return;
            } catch (DlmException e) {
                if (attempt >= RELEASE_ATTEMPTS || !alive()) {
                    log.error("{}: releasing the message lock failed: {}", arrayName, e.getMessage());
                    return;
                }
            }
        }
    }
}
