package org.clustermd.bench.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.io.AioPoller;
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
 *       one thread submits each write at once and, as fio's job, reaps its own writes;
 *       completions hand the buffer back (see {@code Lanes} for why completions do not submit,
 *       and why these writes are not batched).</li>
 *   <li>{@link #sequentialQueued}: the same lanes, each taking the next offset of a sequential
 *       pass over the array, reaped by the shared reaper: a 1 MiB write lasts long against the
 *       reaper's hop, and a pass that sets its bits as it goes takes the blocking path often,
 *       which a thread that reaps its own writes must hand to another thread.</li>
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
                array,
                depth,
                blockSize,
                () -> ThreadLocalRandom.current().nextLong(blocks) * blockSize,
                deadline,
                true,
                false);
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
                Long.MAX_VALUE,
                false,
                true);
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
     * write; with {@code batch} the lanes freed together are issued together, in one batch
     * ({@link IoPlug#batch}), else each write has its {@code io_submit} (one per write, both legs
     * in it, as fio's default {@code iodepth_batch_submit=1} has one per leg write).
     * Completions never submit themselves: the array completes futures on a leg's I/O
     * thread, and a write submitted there is handed to the array's md-submit thread (it may
     * block on a new bitmap bit's flush, which that I/O thread has to complete), a thread hop
     * that fio's loop does not pay.
     *
     * <p>With {@code reapHere} the submitting thread also reaps its own writes, as fio's job does
     * ({@link AioPoller#install()}): when no lane is free it sleeps in {@code io_getevents}, the
     * kernel wakes it for the completions, and the lanes they free are issued at once. Without
     * it the shared reaper gets the completions and wakes the submitter through the permits, a
     * futex hop per reaped batch while the device, which completes most of the batch at once,
     * waits idle (docs/datapath-cost.md, "P1 at 60-70 k IOPS"). A write that
     * {@link Raid1Array#tryWriteAsync} refuses may block, and a thread that reaps its own
     * requests must never block elsewhere (nobody else would reap them): it goes to a thread of
     * its own, as the NBD export's event loop hands such writes on.
     *
     * <p>Why the random lanes do not batch: at 60-80 k writes/s on this virtio disk, the kernel
     * dispatches nothing of an {@code io_submit} of more than two iocbs before the whole call is
     * through (fs/aio.c plugs it), 30-60 µs for 16, while the host, which completes its requests
     * in bursts, has nothing to do; one write per call reaches it at once, and the device's
     * latency fell from 315 to about 200 µs (docs/datapath-cost.md, "P1 at 60-70 k IOPS"). The
     * batch saves CPU (7 against 10 µs a write), which mattered when the machine's cores were
     * the limit; the sequential lanes keep it (a 1 MiB write is long against a call).
     */
    private static final class Lanes {
        /** How long the submitter sleeps at a time, in io_getevents or on the permits. */
        private static final long WAIT_NANOS = 1_000_000L;

        final Raid1Array array;
        final Offsets offsets;
        final long deadline;
        final int depth;
        final boolean reapHere;
        final boolean batch;
        final Semaphore permits;
        final ConcurrentLinkedQueue<ByteBuffer> free = new ConcurrentLinkedQueue<>();
        final AtomicLong counted = new AtomicLong();
        final AtomicLong lastCompletion = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        /** Where the writes that may block go while the submitter reaps; made on first use. */
        private ExecutorService blocking;

        Lanes(
                Raid1Array array,
                int depth,
                int blockSize,
                Offsets offsets,
                long deadline,
                boolean reapHere,
                boolean batch) {
            this.array = array;
            this.offsets = offsets;
            this.deadline = deadline;
            this.depth = depth;
            this.reapHere = reapHere;
            this.batch = batch;
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
            AioPoller poller = reapHere ? AioPoller.install() : null;
            try {
                boolean more = true;
                while (more) {
                    awaitLane(poller);
                    // with a batch every lane free by now goes out in one io_submit for all their
                    // legs (fio's iodepth_batch); inside it only the non-blocking form, a write that
                    // would wait takes the blocking form, which first submits what the batch held
                    int lanes = 1 + permits.drainPermits();
                    try (IoPlug.Batch held = batch ? IoPlug.batch() : null) {
                        for (int i = 0; i < lanes; i++) {
                            long off = failure.get() != null || System.nanoTime() >= deadline ? -1 : offsets.next();
                            if (off < 0) {
                                permits.release(lanes - i);
                                more = false;
                                break;
                            }
                            ByteBuffer b = free.poll();
                            CompletableFuture<Void> f = array.tryWriteAsync(off, b, false);
                            if (f == null) f = poller == null ? array.writeAsync(off, b) : elsewhere(off, b);
                            f.whenComplete((v, t) -> {
                                completed(t);
                                free.add(b);
                                permits.release();
                            });
                        }
                    }
                }
                for (int i = 0; i < depth; i++) awaitLane(poller); // drain
            } finally {
                // after the drain nothing of this thread is in flight; on a failure the poller's
                // context is left to a reaper that finishes what is
                if (poller != null) poller.close();
                if (blocking != null) blocking.shutdown();
            }
            Throwable t = failure.get();
            if (t != null) throw BlockDevice.asIOException(t);
        }

        /** Takes one free lane, reaping this thread's own completions while it waits when it has a poller. */
        private void awaitLane(AioPoller poller) throws InterruptedException {
            if (poller == null) {
                permits.acquire();
                return;
            }
            while (!permits.tryAcquire()) {
                // this thread's writes complete only when it reaps them; a write handed to the
                // blocking thread completes on the shared reaper, which releases its permit
                if (poller.inFlight()) poller.reap(WAIT_NANOS);
                else if (permits.tryAcquire(WAIT_NANOS, TimeUnit.NANOSECONDS)) return;
            }
        }

        /** The blocking form of the write, issued on a thread that may wait, so this one keeps reaping. */
        private CompletableFuture<Void> elsewhere(long off, ByteBuffer b) {
            // what this thread's batch holds may be what that write waits for
            IoPlug.flushHeld();
            if (blocking == null) {
                blocking = Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, "lanes-blocking-write");
                    t.setDaemon(true);
                    return t;
                });
            }
            return CompletableFuture.supplyAsync(() -> array.writeAsync(off, b), blocking)
                    .thenCompose(f -> f);
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
