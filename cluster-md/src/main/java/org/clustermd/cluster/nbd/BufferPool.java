package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.HugePageBuffers;

/**
 * Reuses the 4 KiB-aligned direct buffers that carry request data, so the array uses them as
 * they are (no bounce copy) and a busy export does not allocate, zero and garbage-collect
 * direct memory per request. Buffers come in power-of-two classes from 4 KiB up; at most
 * {@code maxRetained} bytes are kept, the rest are left to the garbage collector.
 *
 * <p>Buffers larger than a page are cut from regions on transparent huge pages
 * ({@link HugePageBuffers}), several at a time: a 1 MiB write from scattered 4 KiB pages is
 * split by a virtio disk and fills its ring by itself, one from a huge page is one segment
 * (docs/lessons.md §70). A 4 KiB buffer is one page either way and stays ordinary memory. The
 * buffers cut together share their region, which the collector frees only when none of them is
 * referenced any more; so a carve cuts no more than the pool may keep.
 *
 * <p>Thread-safe: connections on every event loop share one pool.
 */
final class BufferPool {
    private static final int MIN_SHIFT = 12;
    /** Bytes cut at once for one class: the slack {@link HugePageBuffers} adds is one huge page per region. */
    private static final int CARVE = 4 * HugePageBuffers.HUGE_PAGE;

    /**
     * Free buffers per class, the last given back on top: it is handed out first, still warm in
     * the caches, and a carve's spares wait below it.
     */
    private final ConcurrentLinkedDeque<ByteBuffer>[] free;

    private final AtomicLong retained = new AtomicLong();
    private final long maxRetained;

    @SuppressWarnings("unchecked")
    BufferPool(int maxBuffer, long maxRetained) {
        int classes = shift(maxBuffer) - MIN_SHIFT + 1;
        this.free = new ConcurrentLinkedDeque[classes];
        for (int i = 0; i < classes; i++) free[i] = new ConcurrentLinkedDeque<>();
        this.maxRetained = maxRetained;
    }

    /** A buffer with position 0 and limit {@code length} (at most the pool's largest class). */
    ByteBuffer acquire(int length) {
        int cls = shift(length) - MIN_SHIFT;
        ByteBuffer b = free[cls].pollFirst();
        if (b != null) {
            retained.addAndGet(-b.capacity());
        } else {
            b = allocate(cls);
        }
        return b.clear().limit(length);
    }

    /** Gives a buffer from {@link #acquire} back. */
    void release(ByteBuffer b) {
        int cap = b.capacity();
        if (retained.addAndGet(cap) > maxRetained) {
            retained.addAndGet(-cap);
            return;
        }
        free[shift(cap) - MIN_SHIFT].offerFirst(b);
    }

    /**
     * A new buffer of class {@code cls}; for a class above one page, its region's other buffers
     * go to the free list. They take at most half the room the pool has left: the buffers in use
     * must still find room when they come back, or the pool would keep idle spares and drop the
     * buffers it hands out (a concurrent release may keep the pool over its bound by one carve,
     * until buffers leave it).
     */
    private ByteBuffer allocate(int cls) {
        int size = 1 << (cls + MIN_SHIFT);
        if (cls == 0) return AlignedBuffers.allocate(size);
        long room = Math.max(0, maxRetained - retained.get());
        int count = (int) Math.max(1, Math.min(CARVE / size, 1 + room / 2 / size));
        ByteBuffer[] cut = HugePageBuffers.allocate(count, size);
        for (int i = 1; i < count; i++) {
            retained.addAndGet(size);
            free[cls].offerLast(cut[i]);
        }
        return cut[0];
    }

    /** log2 of the smallest power of two at least {@code n} and at least 4 KiB. */
    private static int shift(int n) {
        int s = 32 - Integer.numberOfLeadingZeros(Math.max(n, 1 << MIN_SHIFT) - 1);
        return Math.max(s, MIN_SHIFT);
    }
}
