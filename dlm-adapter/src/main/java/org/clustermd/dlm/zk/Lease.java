package org.clustermd.dlm.zk;

import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Iterator;
import java.util.function.LongSupplier;

/**
 * One ZooKeeper session's lease: the {@link System#nanoTime()} before which the server cannot
 * have expired the session, so no other member can have been granted this node's locks. It is
 * the only owner of that deadline; {@link LeaseRenewer} feeds it the requests the server
 * answered. Nothing here writes to ZooKeeper.
 *
 * <p>The rule (the argument is in the package documentation, "The lease"): every answered
 * request is a <em>probe</em>, sent at {@code s} and answered at {@code c}. A probe is
 * <em>confirmed</em> by a {@code sync} sent at least {@link #CONFIRM_AFTER} x T after {@code c}
 * and answered (a sync passes the leader, after the probe's touch has reached it); the deadline
 * is then {@code s + FRACTION x T} of the latest confirmed probe, {@code T} the negotiated
 * session timeout. The first session's lease may also start from a time taken before the
 * client asked for the session ({@link #startBeforeConnect}).
 *
 * <p>Thread-safe; the clock is a parameter only so a unit test can drive it.
 */
final class Lease {
    /**
     * The part of the session timeout a lease lasts after the send of a confirmed probe; the rest
     * (a sixth) is left for the holder's check-to-issue window and clock rates.
     */
    static final double FRACTION = 5.0 / 6.0;
    /**
     * How long after a probe's answer its confirming sync must be sent, as a part of the session
     * timeout: a follower forwards a touch to the leader within half a tick plus a round trip,
     * and a tick is at most half the session timeout.
     */
    static final double CONFIRM_AFTER = 1.0 / 3.0;

    private static final int MAX_PROBES = 64;

    private final LongSupplier clock;
    // written under this; read without it: the data path reads the deadline before every leg
    // write, so session and deadline are published together as one immutable pair (a reader
    // never pairs one session with another's deadline)
    private volatile Term term;
    // guarded by this
    private final Deque<Probe> probes = new ArrayDeque<>();

    /** The session a deadline belongs to, and the deadline. */
    record Term(long session, long deadline) {}

    /** An answered request: sent at {@code sent}, answered at {@code answered}. */
    private record Probe(long sent, long answered) {}

    Lease(LongSupplier clock) {
        this.clock = clock;
        this.term = new Term(0, clock.getAsLong());
    }

    /**
     * Starts the first session's lease from {@code connectStart}, a time taken before the client
     * asked for a session: the leader created the session after it, so it cannot expire it
     * before {@code connectStart + T}.
     */
    synchronized void startBeforeConnect(long sessionId, long connectStart, long timeoutNanos) {
        probes.clear();
        term = new Term(sessionId, connectStart + part(FRACTION, timeoutNanos));
    }

    /**
     * A request of session {@code sessionId}, sent at {@code sentAt}, was answered now by the
     * server. {@code leaderChecked}: the request passed the leader's session check (a sync).
     *
     * @return true if the deadline moved
     */
    synchronized boolean answered(long sessionId, long sentAt, long timeoutNanos, boolean leaderChecked) {
        long now = clock.getAsLong();
        if (sessionId != term.session()) {
            // a new session owes nothing to the old one's lease
            probes.clear();
            term = new Term(sessionId, now);
        }
        boolean moved = false;
        if (leaderChecked) {
            long after = part(CONFIRM_AFTER, timeoutNanos);
            Probe anchor = null;
            for (Iterator<Probe> it = probes.iterator(); it.hasNext(); ) {
                Probe p = it.next();
                if (sentAt - (p.answered() + after) < 0) {
                    break; // probes are in answer order: no later one qualifies either
                }
                anchor = p;
                it.remove();
            }
            if (anchor != null) {
                long candidate = anchor.sent() + part(FRACTION, timeoutNanos);
                if (candidate - term.deadline() > 0) {
                    term = new Term(sessionId, candidate);
                    moved = true;
                }
            }
        }
        if (probes.size() == MAX_PROBES) {
            probes.removeFirst();
        }
        probes.addLast(new Probe(sentAt, now));
        return moved;
    }

    /** True before the deadline. */
    boolean valid() {
        return clock.getAsLong() - term.deadline() < 0;
    }

    /** The deadline (in the past when the lease is not valid). */
    long deadline() {
        return term.deadline();
    }

    /** The session the lease belongs to (0 before the first answer). */
    long session() {
        return term.session();
    }

    /** Session and deadline, read together. */
    Term term() {
        return term;
    }

    static long part(double fraction, long nanos) {
        return (long) (fraction * nanos);
    }

    @Override
    public synchronized String toString() {
        long now = clock.getAsLong();
        long session = term.session();
        long deadline = term.deadline();
        return "Lease[session " + Long.toHexString(session)
                + (now - deadline < 0
                        ? ", " + (deadline - now) / 1_000_000 + " ms left"
                        : ", lapsed " + (now - deadline) / 1_000_000 + " ms ago")
                + ", " + probes.size()
                + " probes]";
    }
}
