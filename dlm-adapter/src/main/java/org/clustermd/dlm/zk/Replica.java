package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The bookkeeping of one lockspace's full re-read (at join and after every reconnect in the same
 * session): whether the replica is current, being read, or its read was abandoned; how many
 * asynchronous reads are still to answer; the members seen before the read (to tell who came and
 * went while this node was cut off); and what waits for the read to end.
 *
 * <p>While the phase is not {@link Phase#CURRENT}, the lockspace decides nothing from the replica
 * and reports no membership change from the watch: the read's end compares the members before
 * and after it instead. An abandoned read stays not current until the next read,
 * started by the next reconnect, completes; late answers to the abandoned one count for nothing.
 *
 * <p>Guarded by the owning {@code ZkLockSpace}'s lock: every method is called under it.
 */
final class Replica {

    /** The replica's phase. */
    enum Phase {
        /** Read completely, and kept current by the watch. */
        CURRENT,
        /** A read is under way; {@link #outstanding} answers are still to come. */
        READING,
        /** A read failed (the connection dropped again or the session is gone); a new one follows. */
        ABANDONED
    }

    private Phase phase = Phase.CURRENT;
    private int outstanding;
    private Map<Integer, Long> membersBefore = Map.of();
    private final List<Runnable> afterRead = new ArrayList<>();

    /** Starts a read of {@code reads} parts; {@code members} is the membership seen before it. */
    void start(Map<Integer, Long> members, int reads) {
        phase = Phase.READING;
        outstanding = reads;
        membersBefore = new TreeMap<>(members);
    }

    /** One more answer to wait for (a resource found by the read). */
    void expect() {
        if (phase == Phase.READING) {
            outstanding++;
        }
    }

    /**
     * One answer came; {@code ok} says whether it succeeded. Returns true when it was the last
     * one of a read that did not fail: the replica is current again.
     */
    boolean answered(boolean ok) {
        if (phase != Phase.READING) {
            return false; // an abandoned read's late answer counts for nothing
        }
        if (!ok) {
            phase = Phase.ABANDONED;
            return false;
        }
        if (--outstanding != 0) {
            return false;
        }
        phase = Phase.CURRENT;
        return true;
    }

    /** Whether the replica is current: false while being read, or after its read was abandoned. */
    boolean current() {
        return phase == Phase.CURRENT;
    }

    /** Whether a read is under way (not abandoned): its end will run what waits for it. */
    boolean reading() {
        return phase == Phase.READING && outstanding > 0;
    }

    /** The members seen when the current read started. */
    Map<Integer, Long> membersBefore() {
        return membersBefore;
    }

    /** Hands {@code r} to the callback queue when the next read completes. */
    void afterRead(Runnable r) {
        afterRead.add(r);
    }

    /** What waited for the read that just completed; cleared. */
    List<Runnable> takeAfterRead() {
        List<Runnable> taken = List.copyOf(afterRead);
        afterRead.clear();
        return taken;
    }

    Phase phase() {
        return phase;
    }
}
