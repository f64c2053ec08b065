package org.clustermd.cluster.nbd;

import java.util.ArrayDeque;

/**
 * A connection's writes that the target has not finished, in the order they were issued, and
 * the FLUSHes waiting for them: a FLUSH starts only when every write received before it has
 * completed, so its acknowledgement covers all of them, not only those already acknowledged
 * (what the spec asks). A write joins and leaves by its own links, so tracking allocates
 * nothing per write; the oldest unfinished write's sequence number says which flushes may go.
 *
 * <p>Not thread-safe: the connection's event loop owns it.
 */
final class UnfinishedWrites {
    /** A FLUSH waiting for the writes with sequence numbers below {@code seq}. */
    private record Waiting(long seq, Runnable start) {}

    private final ArrayDeque<Waiting> flushes = new ArrayDeque<>();
    private WriteOp oldest;
    private WriteOp newest;
    private long nextSeq;

    void add(WriteOp op) {
        op.seq = nextSeq++;
        op.older = newest;
        op.newer = null;
        if (newest == null) oldest = op;
        else newest.newer = op;
        newest = op;
    }

    /** The target finished {@code op}: it leaves, and the flushes it held back start. */
    void remove(WriteOp op) {
        if (op.older == null) oldest = op.newer;
        else op.older.newer = op.newer;
        if (op.newer == null) newest = op.older;
        else op.newer.older = op.older;
        op.older = null;
        op.newer = null;
        startReady();
    }

    /** Runs {@code start} once every write added so far has been removed (now, when none is left). */
    void afterEarlierWrites(Runnable start) {
        if (oldest == null) {
            start.run();
            return;
        }
        flushes.add(new Waiting(nextSeq, start));
    }

    private void startReady() {
        while (!flushes.isEmpty() && (oldest == null || oldest.seq >= flushes.peek().seq)) {
            flushes.poll().start().run();
        }
    }
}
