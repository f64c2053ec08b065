package org.clustermd.bench.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.HugePageBuffers;

/**
 * Diagnostic floors measured below the array, on the legs' {@link BlockDevice}s themselves: what
 * a workload costs when only its I/O dependencies are kept. They separate what the engine adds
 * (bitmap, barriers, accounting, hand-offs) from what the shape of the work imposes and fio's
 * peer does not have:
 *
 * <ul>
 *   <li>{@link #coupledWrites}: each slot writes the same buffer to both legs and is free only
 *       when both completed (a mirrored write, without the array), while fio runs each leg's
 *       queue on its own;</li>
 *   <li>{@link #dependentCopy}: each slot reads the source and then writes that data to the
 *       destination (a resync request, without the sync thread), while fio's read and write
 *       streams do not wait for each other.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe; each call owns its slots.
 */
public final class RawLegs {
    private RawLegs() {}

    /**
     * Sequential {@code blockSize} writes of {@code bytes} from {@code base} to every leg,
     * {@code depth} slots; returns MiB/s of the mirrored data.
     */
    public static double coupledWrites(List<BlockDevice> legs, long base, long bytes, int depth, int blockSize)
            throws IOException, InterruptedException {
        return coupledWritesWithBitFlushes(legs, base, bytes, depth, blockSize, 0, 0);
    }

    /**
     * {@link #coupledWrites} plus md's bitmap rule and nothing else of the array: before the first
     * write into each {@code chunkBytes} chunk the submitter rewrites one 4 KiB page at
     * {@code pageOffset} on every leg (each leg's own bytes, so nothing changes) and waits until
     * both legs flushed it, as a write waits for its new bit (docs/lessons.md §27). The floor for a pass of
     * the array with a bitmap of that chunk size: what a durable bit costs on this disk. With
     * {@code chunkBytes} 0 there is no bitmap page: {@link #coupledWrites}.
     */
    public static double coupledWritesWithBitFlushes(
            List<BlockDevice> legs, long base, long bytes, int depth, int blockSize, long chunkBytes, long pageOffset)
            throws IOException, InterruptedException {
        List<ByteBuffer> pages = new ArrayList<>();
        for (BlockDevice d : chunkBytes > 0 ? legs : List.<BlockDevice>of()) {
            ByteBuffer p = AlignedBuffers.allocate(4096);
            d.read(pageOffset, p);
            pages.add(p);
        }
        // the buffers our side's lanes write from (WriteLoad), so a floor stays a floor
        Slots slots = new Slots(depth, List.of(HugePageBuffers.allocate(depth, blockSize)));
        long t0 = System.nanoTime();
        for (long off = 0; off + blockSize <= bytes; off += blockSize) {
            if (chunkBytes > 0 && off % chunkBytes == 0) {
                CompletableFuture<?>[] bit = new CompletableFuture<?>[legs.size()];
                for (int i = 0; i < bit.length; i++) {
                    BlockDevice d = legs.get(i);
                    bit[i] = d.writeAsync(pageOffset, pages.get(i)).thenCompose(v -> d.flushAsync());
                }
                BlockDevice.await(CompletableFuture.allOf(bit));
            }
            ByteBuffer b = slots.take();
            long at = base + off;
            CompletableFuture<?>[] fs = new CompletableFuture<?>[legs.size()];
            for (int i = 0; i < fs.length; i++) fs[i] = legs.get(i).writeAsync(at, b);
            slots.release(CompletableFuture.allOf(fs), b);
        }
        slots.drain();
        return bytes / ((System.nanoTime() - t0) / 1e9) / (1 << 20);
    }

    /**
     * A sequential copy of {@code bytes} from {@code base} of {@code src} to the same offsets of
     * {@code dst}, {@code blockSize} per request, read-then-write in each of {@code depth} slots;
     * returns MiB/s.
     */
    public static double dependentCopy(
            BlockDevice src, BlockDevice dst, long base, long bytes, int depth, int blockSize)
            throws IOException, InterruptedException {
        // on huge pages, as the sync thread's own buffers (SyncPass) are
        Slots slots = new Slots(depth, List.of(HugePageBuffers.allocate(depth, blockSize)));
        long t0 = System.nanoTime();
        for (long off = 0; off + blockSize <= bytes; off += blockSize) {
            ByteBuffer b = slots.take();
            long at = base + off;
            slots.release(src.readAsync(at, b).thenCompose(v -> dst.writeAsync(at, b)), b);
        }
        slots.drain();
        return bytes / ((System.nanoTime() - t0) / 1e9) / (1 << 20);
    }

    /** {@code depth} buffers handed out by one submitting thread and returned by completions. */
    private static final class Slots {
        final int depth;
        final Semaphore free;
        final ConcurrentLinkedQueue<ByteBuffer> buffers = new ConcurrentLinkedQueue<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Slots(int depth, List<ByteBuffer> buffers) {
            this.depth = depth;
            this.free = new Semaphore(depth);
            this.buffers.addAll(buffers);
        }

        ByteBuffer take() throws InterruptedException, IOException {
            free.acquire();
            check();
            return buffers.poll();
        }

        void release(CompletableFuture<?> f, ByteBuffer b) {
            f.whenComplete((v, t) -> {
                if (t != null) failure.compareAndSet(null, t);
                buffers.add(b);
                free.release();
            });
        }

        void drain() throws InterruptedException, IOException {
            free.acquire(depth);
            free.release(depth);
            check();
        }

        void check() throws IOException {
            Throwable t = failure.get();
            if (t != null) throw BlockDevice.asIOException(t);
        }
    }
}
