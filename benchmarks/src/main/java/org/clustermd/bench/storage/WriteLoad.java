package org.clustermd.bench.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.HugePageBuffers;
import org.clustermd.raid1.io.IoPlug;

/**
 * Our side of the storage figures: the same workloads fio runs, issued through the array's
 * public data path.
 *
 * <ul>
 *   <li>{@link #randomQueued}: {@code depth} writes always in flight through
 *       {@link Raid1Array#writeAsync}, like fio's libaio engine at that iodepth. The
 *       {@code depth} buffers are aligned, direct and on huge pages ({@link HugePageBuffers});
 *       one thread submits, completions hand the buffer back (see {@code Lanes} for why
 *       completions do not submit).</li>
 *   <li>{@link #sequentialQueued}: the same lanes, each taking the next offset of a sequential
 *       pass over the array.</li>
 *   <li>{@link #randomSync}: one blocking {@link Raid1Array#write} after another (fio's psync at
 *       qd1), recording each latency.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe; each call owns its lanes.
 */
public final class WriteLoad {
    private WriteLoad() {}

    /**
     * What a run did.
     *
     * @param ops writes completed inside the measured interval
     * @param bytes bytes of those writes
     * @param nanos the measured interval
     */
    public record Throughput(long ops, long bytes, long nanos) {
        public double iops() {
            return ops / (nanos / 1e9);
        }

        public double mibPerSecond() {
            return bytes / (nanos / 1e9) / (1 << 20);
        }
    }

    /**
     * Random {@code blockSize} writes over the whole array with {@code depth} in flight for
     * {@code seconds}; writes that complete after the interval are not counted.
     *
     * @throws IOException the first write that failed (the run stops at once)
     */
    public static Throughput randomQueued(Raid1Array array, int depth, int blockSize, double seconds)
            throws IOException, InterruptedException {
        long blocks = array.size() / blockSize;
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        Lanes lanes = new Lanes(
                array, depth, blockSize, () -> ThreadLocalRandom.current().nextLong(blocks) * blockSize, deadline);
        lanes.runToEnd();
        return new Throughput(lanes.counted.get(), lanes.counted.get() * blockSize, deadline - start);
    }

    /**
     * One sequential pass of {@code blockSize} writes over the first {@code bytes} of the
     * array with {@code depth} in flight; the interval ends when the last write completed.
     */
    public static Throughput sequentialQueued(Raid1Array array, int depth, int blockSize, long bytes)
            throws IOException, InterruptedException {
        AtomicLong cursor = new AtomicLong();
        long blocks = bytes / blockSize;
        Lanes lanes = new Lanes(
                array,
                depth,
                blockSize,
                () -> {
                    long n = cursor.getAndIncrement();
                    return n < blocks ? n * blockSize : -1;
                },
                Long.MAX_VALUE);
        // the clock starts once the buffers are there, as fio's runtime starts after its set-up
        long start = System.nanoTime();
        lanes.runToEnd();
        long end = lanes.lastCompletion.get();
        return new Throughput(lanes.counted.get(), lanes.counted.get() * blockSize, end - start);
    }

    /**
     * Blocking random {@code blockSize} writes, one at a time, for {@code seconds} or until
     * {@code keepGoing} says no (checked before each write); each latency goes to {@code latencies}.
     */
    public static Throughput randomSync(
            Raid1Array array, int blockSize, double seconds, LatencySamples latencies, BooleanSupplier keepGoing)
            throws IOException {
        ByteBuffer buf = AlignedBuffers.allocate(blockSize);
        long blocks = array.size() / blockSize;
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long start = System.nanoTime();
        long deadline = start + (long) (seconds * 1e9);
        long ops = 0;
        long now = start;
        while (now < deadline && keepGoing.getAsBoolean()) {
            long off = r.nextLong(blocks) * blockSize;
            array.write(off, buf);
            long t = System.nanoTime();
            if (latencies != null) latencies.add(t - now);
            now = t;
            ops++;
        }
        return new Throughput(ops, ops * blockSize, now - start);
    }

    /**
     * One untimed write at the start of every bitmap chunk, so every bit of the working set is
     * set and flushed before a timed run (a no-op without a bitmap).
     */
    public static void primeBitmap(Raid1Array array) throws IOException {
        long chunk = array.bitmapChunkSize();
        if (chunk == 0) return;
        ByteBuffer buf = AlignedBuffers.allocate(array.logicalBlockSize());
        for (long off = 0; off < array.size(); off += chunk) array.write(off, buf);
    }

    /** Supplies the next offset, or -1 when there is none. */
    private interface Offsets {
        long next();
    }

    /**
     * {@code depth} writes kept in flight by one submitting thread (the caller's), like fio's
     * libaio job: a completion returns its buffer and a permit, and the submitter issues the next
     * write; the lanes freed together are issued together, in one batch ({@link IoPlug#batch}).
     * Completions never submit themselves: the array completes futures on a leg's I/O
     * thread, and a write submitted there is handed to the array's md-submit thread (it may
     * block on a new bitmap bit's flush, which that I/O thread has to complete), a thread hop
     * that fio's loop does not pay.
     */
    private static final class Lanes {
        final Raid1Array array;
        final Offsets offsets;
        final long deadline;
        final int depth;
        final Semaphore permits;
        final ConcurrentLinkedQueue<ByteBuffer> free = new ConcurrentLinkedQueue<>();
        final AtomicLong counted = new AtomicLong();
        final AtomicLong lastCompletion = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();

        Lanes(Raid1Array array, int depth, int blockSize, Offsets offsets, long deadline) {
            this.array = array;
            this.offsets = offsets;
            this.deadline = deadline;
            this.depth = depth;
            this.permits = new Semaphore(depth);
            // one region on huge pages, as fio's one buffer allocation: a 1 MiB write is then one
            // segment for the device, not ~250 (docs/lessons.md §70)
            ByteBuffer[] buffers = HugePageBuffers.allocate(depth, blockSize);
            for (int i = 0; i < depth; i++) {
                ByteBuffer b = buffers[i];
                // a recognisable pattern, so a leg dump shows which buffer wrote a block
                for (int j = 0; j < blockSize; j += 8) b.putLong(j, 0x636c75737465726dL ^ i);
                free.add(b);
            }
        }

        void runToEnd() throws IOException, InterruptedException {
            boolean more = true;
            while (more) {
                permits.acquire();
                // every lane free by now goes out in one batch: one io_submit for all their legs
                // (fio's iodepth_batch); inside it only the non-blocking form, a write that would
                // wait takes the blocking form, which first submits what the batch held
                int lanes = 1 + permits.drainPermits();
                try (IoPlug.Batch batch = IoPlug.batch()) {
                    for (int i = 0; i < lanes; i++) {
                        long off = failure.get() != null || System.nanoTime() >= deadline ? -1 : offsets.next();
                        if (off < 0) {
                            permits.release(lanes - i);
                            more = false;
                            break;
                        }
                        ByteBuffer b = free.poll();
                        CompletableFuture<Void> f = array.tryWriteAsync(off, b, false);
                        if (f == null) f = array.writeAsync(off, b);
                        f.whenComplete((v, t) -> {
                            completed(t);
                            free.add(b);
                            permits.release();
                        });
                    }
                }
            }
            permits.acquire(depth); // drain
            Throwable t = failure.get();
            if (t != null) throw BlockDevice.asIOException(t);
        }

        void completed(Throwable t) {
            if (t != null) {
                failure.compareAndSet(null, t);
                return;
            }
            long now = System.nanoTime();
            if (now < deadline) {
                counted.incrementAndGet();
                lastCompletion.accumulateAndGet(now, Math::max);
            }
        }
    }
}
