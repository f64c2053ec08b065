package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_ONE;
import static org.clustermd.bitmap.ChunkCounters.AHEAD;
import static org.clustermd.bitmap.ChunkCounters.PENDING;

/**
 * Sets the bits of the next chunks of a sequential stream before its writer reaches them, so
 * that the stream rarely waits for a flushed bitmap page (docs/design.md §4, docs/lessons.md
 * §55). md's rule is kept: a leg is written only once its chunk's bit is durable; the bits are
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
 * chunks behind it (2 to 3 periods). Nothing is set ahead while the array is degraded: then
 * every dirty chunk is copied at the re-add for certain, not only after a crash.
 *
 * <p>Only a writer that waits for a round anyway (its chunk needed a bit) sets bits ahead, and
 * its round carries them: a long stream waits for one round per {@code limit + 1} chunks
 * instead of one per chunk. No round is run that no writer waits for: a background round (the
 * daemon's, say) could be blocked in a leg write the lease holds, and the fence joins the daemon
 * before held writes fail, so it would never return.
 *
 * <p>Owns the look-ahead limit only; the counters, image and group commit are the bitmap's.
 * Thread-safety: {@link #extend} runs under the bitmap's lock.
 */
final class StreamAhead {
    /** The age a bit set ahead starts with: one daemon pass less than a written chunk's. */
    private static final int AGE_AHEAD = 2 * AGE_ONE;

    private final WriteIntentBitmap owner;
    private final GroupCommit commit;
    private final int limit;

    StreamAhead(WriteIntentBitmap owner, GroupCommit commit, int limit) {
        this.owner = owner;
        this.commit = commit;
        this.limit = limit;
    }

    /**
     * Under the lock, after a write on chunk {@code c} was counted: sets ahead the idle clean
     * chunks of the window after {@code c}. Returns how many bits it set (registered for the
     * next round).
     */
    int extend(SlotState s, int c) {
        // degraded, every dirty chunk is copied at the re-add for sure, not only after a crash
        if (limit == 0 || owner.degraded()) return 0;
        ChunkCounters cc = s.counters;
        int run = 1;
        while (run < limit && c - run >= 0 && written(cc.get(c - run))) run++;
        if (run < 2) return 0; // a lone chunk is no stream
        int end = Math.min(cc.chunks() - 1, c + run);
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

    /** Set on disk (or about to be) because a write started on it, not set ahead. */
    private static boolean written(int v) {
        return ChunkCounters.bitSet(v) && (v & AHEAD) == 0;
    }
}
