package org.clustermd.bitmap;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * md's {@code bitmap_counts}: one 32-bit state word per chunk, changed only by compare-and-set
 * so that the write hot path takes no lock.
 *
 * <pre>
 * bits  0-23  COUNT     writes started and not yet ended (md's 14-bit counter, wider)
 * bits 24-25  AGE       daemon passes left before an idle chunk's bit is cleared (3 after
 *                       the last write ends: cleared 2 to 3 daemon_sleep periods later)
 * bits 26-27  DISK      CLEAN     bit clear in memory and on disk
 *                       PENDING   bit set in memory, its write not yet flushed
 *                       DIRTY     bit set and durable
 *                       CLEARING  bit cleared in memory, its write not yet flushed
 * bit  28     NEEDED    the chunk needs a resync (md's NEEDED_MASK)
 * bit  29     RESYNC    a resync of the chunk is running (md's RESYNC_MASK)
 * bit  30     AHEAD     the bit was set ahead of a sequential stream and no write has
 *                       started on the chunk since ({@link StreamAhead}; not in md)
 * </pre>
 *
 * <p>Who may change what: the hot path (startWrite on a DIRTY chunk, endWrite) changes COUNT,
 * AGE and NEEDED; every DISK transition happens under the bitmap's lock, so a DISK change and
 * the matching change of the in-memory page are one atomic step for every other lock holder.
 * A chunk leaves DIRTY for CLEARING only with COUNT 0 and neither flag set, so a bit is never
 * cleared while a write on it is pending.
 *
 * <p>Thread-safe (atomic per chunk); multi-chunk consistency is the caller's business.
 */
final class ChunkCounters {
    static final int COUNT_MASK = 0x00FF_FFFF;
    static final int AGE_SHIFT = 24;
    static final int AGE_MASK = 3 << AGE_SHIFT;
    static final int AGE_FRESH = 3 << AGE_SHIFT;
    static final int AGE_ONE = 1 << AGE_SHIFT;
    static final int DISK_MASK = 3 << 26;
    static final int CLEAN = 0;
    static final int PENDING = 1 << 26;
    static final int DIRTY = 2 << 26;
    static final int CLEARING = 3 << 26;
    static final int NEEDED = 1 << 28;
    static final int RESYNC = 1 << 29;
    static final int AHEAD = 1 << 30;
    /** What {@link #tryStartWrite} answers when the slow path is needed (states are never negative). */
    static final int NOT_COUNTED = -1;

    private static final VarHandle STATES = MethodHandles.arrayElementVarHandle(int[].class);

    private final int[] states;

    ChunkCounters(int chunks) {
        this.states = new int[chunks];
    }

    int chunks() {
        return states.length;
    }

    int get(int chunk) {
        return (int) STATES.getVolatile(states, chunk);
    }

    /** Only for loading, before the counters are published. */
    void init(int chunk, int state) {
        states[chunk] = state;
    }

    boolean cas(int chunk, int expect, int update) {
        return STATES.compareAndSet(states, chunk, expect, update);
    }

    /**
     * Counts a write on a chunk whose bit is durable and returns the state it found (AHEAD in it
     * means this is the first write into a chunk set ahead of a stream; the flag is gone now);
     * {@link #NOT_COUNTED} when the slow path is needed.
     */
    int tryStartWrite(int chunk) {
        for (; ; ) {
            int s = get(chunk);
            if ((s & DISK_MASK) != DIRTY) return NOT_COUNTED;
            if ((s & COUNT_MASK) == COUNT_MASK) throw overflow(chunk);
            if (cas(chunk, s, (s + 1) & ~AHEAD)) return s;
        }
    }

    /**
     * Ends one write. NEEDED is set in the same atomic step as the decrement, so the daemon can
     * never see the count at 0 without the flag a failed write must leave (docs/lessons.md §28).
     */
    void endWrite(int chunk, boolean needed) {
        for (; ; ) {
            int s = get(chunk);
            int n = s & COUNT_MASK;
            if (n == 0) {
                throw new IllegalStateException(
                        "endWrite on chunk " + chunk + " without a matching startWrite" + " (counter would underflow)");
            }
            int u = s - 1;
            if (needed) u |= NEEDED;
            if (n == 1) u = (u & ~AGE_MASK) | AGE_FRESH;
            if (cas(chunk, s, u)) return;
        }
    }

    /** Takes back a count that a failed startWrite added: no NEEDED, the write never went out. */
    void undoStart(int chunk) {
        for (; ; ) {
            int s = get(chunk);
            int n = s & COUNT_MASK;
            if (n == 0) throw new IllegalStateException("undo on chunk " + chunk + " with no count");
            int u = s - 1;
            if (n == 1) u = (u & ~AGE_MASK) | AGE_FRESH;
            if (cas(chunk, s, u)) return;
        }
    }

    /**
     * md's {@code __bitmap_start_sync} for one chunk: whether it needs a resync; a NEEDED chunk
     * becomes RESYNC unless {@code degraded} (then nothing changes).
     */
    boolean startSync(int chunk, boolean degraded) {
        for (; ; ) {
            int v = get(chunk);
            if ((v & RESYNC) != 0) return true;
            if ((v & NEEDED) == 0) return false;
            if (degraded) return true;
            if (cas(chunk, v, (v & ~NEEDED) | RESYNC)) return true;
        }
    }

    /** md's {@code md_bitmap_end_sync} for one chunk. */
    void endSync(int chunk, boolean aborted) {
        for (; ; ) {
            int v = get(chunk);
            if ((v & RESYNC) == 0) return;
            int u = v & ~RESYNC;
            if (aborted && (v & NEEDED) == 0) {
                u |= NEEDED;
            } else if ((u & (NEEDED | COUNT_MASK)) == 0) {
                u = (u & ~AGE_MASK) | AGE_FRESH; // synced and idle: the bit starts to decay
            }
            if (cas(chunk, v, u)) return;
        }
    }

    /** The first chunk at or after {@code from} that is NEEDED or RESYNC, or -1. */
    int nextFlagged(int from) {
        for (int c = from; c < states.length; c++) {
            if ((get(c) & (NEEDED | RESYNC)) != 0) return c;
        }
        return -1;
    }

    long countFlagged() {
        long n = 0;
        for (int c = 0; c < states.length; c++) if ((get(c) & (NEEDED | RESYNC)) != 0) n++;
        return n;
    }

    long countAhead() {
        long n = 0;
        for (int c = 0; c < states.length; c++) if ((get(c) & AHEAD) != 0) n++;
        return n;
    }

    long countBitSet() {
        long n = 0;
        for (int c = 0; c < states.length; c++) if (bitSet(get(c))) n++;
        return n;
    }

    static int count(int s) {
        return s & COUNT_MASK;
    }

    static int disk(int s) {
        return s & DISK_MASK;
    }

    static int age(int s) {
        return (s & AGE_MASK) >>> AGE_SHIFT;
    }

    /** True when the bit is set in memory (it will be, or is, on disk). */
    static boolean bitSet(int s) {
        int d = s & DISK_MASK;
        return d == PENDING || d == DIRTY;
    }

    static IllegalStateException overflow(int chunk) {
        return new IllegalStateException("more than " + COUNT_MASK + " writes pending on chunk " + chunk);
    }
}
