package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_ONE;
import static org.clustermd.bitmap.ChunkCounters.AHEAD;
import static org.clustermd.bitmap.ChunkCounters.PENDING;

import java.util.concurrent.locks.ReentrantLock;

/**
 * Sets the bits of the next chunks of a sequential stream before its writer reaches them, so
 * that the stream rarely waits for a flushed bitmap page (docs/design.md §4, docs/lessons.md
 * §59). md's rule is kept: a leg is written only once its chunk's bit is durable; the bits are
 * just made durable earlier, several in one round.
 *
 * <p>A stream is recognised from the counters alone, with no per-stream table: the chunk just
 * written and the chunks right before it that were written (bit set, not AHEAD) form its
 * <em>run</em>. The window after the chunk may hold at most {@code min(limit, run)} chunks set
 * ahead; a chunk is set ahead only if it is wholly idle and clean. So while a stream runs, the
 * chunks it has set and not written are at most {@code limit} and at most the chunks it has
 * written: after a crash the extra chunks resynced are at most {@code min(limit, written)} per
 * stream (docs/design.md §4 states the bound). A bit set ahead and never written starts at
 * age 2, so the daemon clears it 1 to 2 {@code daemon_sleep} periods later, before the written
 * chunks behind it (2 to 3 periods).
 *
 * <p>Two callers: a writer that waits for a round anyway tops the window up fully and its round
 * carries the new bits; a writer entering a chunk set ahead (no wait) tops it up only when less
 * than half of the window is left, and asks for a round it does not wait for (the bitmap's
 * daemon runs it), so a long stream costs one flushed round per {@code limit / 2} chunks.
 *
 * <p>Owns the look-ahead limit only; the counters, image and group commit are the bitmap's.
 * Thread-safety: {@link #extend} runs under the bitmap's lock; {@link #refill} takes it.
 */
final class StreamAhead {
    /** The age a bit set ahead starts with: one daemon pass less than a written chunk's. */
    private static final int AGE_AHEAD = 2 * AGE_ONE;

    private final WriteIntentBitmap owner;
    private final ReentrantLock lock;
    private final GroupCommit commit;
    private final int limit;
    private final Runnable roundWanted;

    StreamAhead(WriteIntentBitmap owner, ReentrantLock lock, GroupCommit commit, int limit, Runnable roundWanted) {
        this.owner = owner;
        this.lock = lock;
        this.commit = commit;
        this.limit = limit;
        this.roundWanted = roundWanted;
    }

    /**
     * Under the lock, after a write on chunk {@code c} was counted: sets ahead the idle clean
     * chunks of the window after {@code c}. With {@code full} false it does so only when less
     * than half of the window is set. Returns how many bits it set (registered for the next
     * round; the caller runs or asks for it).
     */
    int extend(SlotState s, int c, boolean full) {
        if (limit == 0) return 0;
        ChunkCounters cc = s.counters;
        int run = 1;
        while (run < limit && c - run >= 0 && written(cc.get(c - run))) run++;
        if (run < 2) return 0; // a lone chunk is no stream
        int end = Math.min(cc.chunks() - 1, c + run);
        if (!full) {
            int set = c + 1;
            while (set <= end && ChunkCounters.bitSet(cc.get(set))) set++;
            if (end - set + 1 <= run / 2) return 0;
        }
        int added = 0;
        for (int d = c + 1; d <= end; d++) {
            // only a chunk with nothing going on: state 0 is CLEAN, no count, no flag, no age
            if (cc.get(d) != 0 || !cc.cas(d, 0, AHEAD | PENDING | AGE_AHEAD)) continue;
            s.image.setBit(d);
            commit.registerSet(d);
            added++;
        }
        return added;
    }

    /**
     * A writer entered chunk {@code c}, set ahead, without waiting: tops the window up if it
     * runs low and asks for a round. Skipped if the lock is busy (the next chunk tries again),
     * so the fast path never blocks here.
     */
    void refill(SlotState s, int c) {
        if (limit == 0 || !lock.tryLock()) return;
        try {
            if (owner.isClosed() || s != owner.state()) return;
            if (extend(s, c, false) > 0) roundWanted();
        } finally {
            lock.unlock();
        }
    }

    /** Bits were set and nobody waits for their round: asks the daemon to run one. */
    void roundWanted() {
        roundWanted.run();
    }

    /** Set on disk (or about to be) because a write started on it, not set ahead. */
    private static boolean written(int v) {
        return ChunkCounters.bitSet(v) && (v & AHEAD) == 0;
    }
}
