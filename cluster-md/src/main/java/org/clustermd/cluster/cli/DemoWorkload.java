package org.clustermd.cluster.cli;

import java.nio.ByteBuffer;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.StampedBlock;

/**
 * One demo node's writer: stamped writes of 1 to 16 blocks at random places among the blocks its
 * {@link DemoLayout.Assignment} gives it, 8 in flight, 5 % with FUA and a FLUSH after every 64,
 * until stopped or until a write fails (the node was killed: that is the demo's point, not an
 * error of the workload). Two writes to the same block are never in flight at once, so the last
 * durable write of a block is the one it must hold. A seeded {@link Random} picks places and
 * sizes.
 *
 * <p>Thread-safe: one {@code demo-writer} thread issues; completions run on the target's threads
 * and only release permits and count. {@link #stop()} from any thread.
 */
final class DemoWorkload {
    static final int QUEUE_DEPTH = 8;
    static final int MAX_BLOCKS = 16;
    static final int FLUSH_EVERY = 64;
    static final int FUA_PERCENT = 5;

    private final BlockTarget target;
    private final DemoLayout.Assignment blocks;
    private final long writer;
    private final Random random;
    private final Semaphore permits = new Semaphore(QUEUE_DEPTH);
    private final Set<Long> busy = ConcurrentHashMap.newKeySet();
    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong replied = new AtomicLong();
    private final AtomicReference<Throwable> firstError = new AtomicReference<>();
    private final Thread thread;
    private volatile boolean stopping;

    /** What a run did; {@code error} is the first failed request's cause, or null. */
    record Result(long issued, long replied, Throwable error) {}

    DemoWorkload(BlockTarget target, DemoLayout.Assignment blocks, long writer) {
        if (blocks.blocks() < MAX_BLOCKS) throw new IllegalArgumentException("fewer blocks than one write");
        this.target = target;
        this.blocks = blocks;
        this.writer = writer;
        this.random = new Random(writer * 7919);
        this.thread = new Thread(this::run, "demo-writer-" + writer);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    private void run() {
        long nextId = writer << 40;
        try {
            for (long n = 0; !stopping; n++) {
                permits.acquire();
                if (stopping) {
                    permits.release();
                    break;
                }
                long first = pick();
                if (first < 0) {
                    permits.release();
                    continue;
                }
                int count = (int) Math.min(1 + random.nextInt(MAX_BLOCKS), blocks.run(first));
                if (!reserve(first, count)) {
                    permits.release();
                    continue;
                }
                long id = ++nextId;
                long offset = blocks.arrayBlock(first) * StampedBlock.SIZE;
                ByteBuffer buf = AlignedBuffers.allocate(count * StampedBlock.SIZE);
                for (int i = 0; i < count; i++) {
                    StampedBlock.stamp(buf, i * StampedBlock.SIZE, offset + (long) i * StampedBlock.SIZE, writer, id);
                }
                issued.incrementAndGet();
                target.writeAsync(offset, buf, random.nextInt(100) < FUA_PERCENT)
                        .whenComplete((v, t) -> {
                            if (t == null) replied.incrementAndGet();
                            else failed(t);
                            for (int i = 0; i < count; i++) busy.remove(blocks.arrayBlock(first + i));
                            permits.release();
                        });
                if ((n + 1) % FLUSH_EVERY == 0)
                    target.flushAsync().whenComplete((v, t) -> {
                        if (t != null) failed(t);
                    });
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            failed(e);
        }
    }

    /** A random block of the node's to start a write at, or -1 after a few tries found only busy ones. */
    private long pick() {
        for (int tries = 0; tries < 64; tries++) {
            long b = (random.nextLong() & Long.MAX_VALUE) % blocks.blocks();
            if (!busy.contains(blocks.arrayBlock(b))) return b;
        }
        return -1;
    }

    private boolean reserve(long first, int count) {
        for (int i = 0; i < count; i++) {
            if (!busy.add(blocks.arrayBlock(first + i))) {
                for (int j = 0; j < i; j++) busy.remove(blocks.arrayBlock(first + j));
                return false;
            }
        }
        return true;
    }

    private void failed(Throwable t) {
        firstError.compareAndSet(null, t);
        stopping = true;
    }

    /** True once a request failed (the workload stops issuing then). */
    boolean failed() {
        return firstError.get() != null;
    }

    /** Writes replied to so far. */
    long replied() {
        return replied.get();
    }

    /**
     * Stops issuing, waits (up to a minute) for every write in flight, then sends a last FLUSH
     * so every write replied to becomes durable (and is logged), unless a request already failed.
     */
    Result stop() throws InterruptedException {
        stopping = true;
        thread.join(TimeUnit.MINUTES.toMillis(1));
        if (permits.tryAcquire(QUEUE_DEPTH, 1, TimeUnit.MINUTES)) permits.release(QUEUE_DEPTH);
        if (firstError.get() == null) {
            CompletableFuture<Void> last = target.flushAsync();
            try {
                last.get(1, TimeUnit.MINUTES);
            } catch (ExecutionException e) {
                failed(e.getCause());
            } catch (TimeoutException e) {
                failed(e);
            }
        }
        return new Result(issued.get(), replied.get(), firstError.get());
    }
}
