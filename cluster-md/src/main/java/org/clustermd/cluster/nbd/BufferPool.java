package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.AlignedBuffers;

/**
 * Reuses the 4 KiB-aligned direct buffers that carry request data, so the array uses them as
 * they are (no bounce copy) and a busy export does not allocate, zero and garbage-collect
 * direct memory per request. Buffers come in power-of-two classes from 4 KiB up; at most
 * {@code maxRetained} bytes are kept, the rest are left to the garbage collector.
 *
 * <p>Thread-safe: connections on every event loop share one pool.
 */
final class BufferPool {
    private static final int MIN_SHIFT = 12;

    private final ConcurrentLinkedQueue<ByteBuffer>[] free;
    private final AtomicLong retained = new AtomicLong();
    private final long maxRetained;

    @SuppressWarnings("unchecked")
    BufferPool(int maxBuffer, long maxRetained) {
        int classes = shift(maxBuffer) - MIN_SHIFT + 1;
        this.free = new ConcurrentLinkedQueue[classes];
        for (int i = 0; i < classes; i++) free[i] = new ConcurrentLinkedQueue<>();
        this.maxRetained = maxRetained;
    }

    /** A buffer with position 0 and limit {@code length} (at most the pool's largest class). */
    ByteBuffer acquire(int length) {
        int cls = shift(length) - MIN_SHIFT;
        ByteBuffer b = free[cls].poll();
        if (b != null) {
            retained.addAndGet(-b.capacity());
        } else {
            b = AlignedBuffers.allocate(1 << (cls + MIN_SHIFT));
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
        free[shift(cap) - MIN_SHIFT].offer(b);
    }

    /** log2 of the smallest power of two at least {@code n} and at least 4 KiB. */
    private static int shift(int n) {
        int s = 32 - Integer.numberOfLeadingZeros(Math.max(n, 1 << MIN_SHIFT) - 1);
        return Math.max(s, MIN_SHIFT);
    }
}
