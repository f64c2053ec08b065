package org.clustermd.raid1.verify;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Objects;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.AlignedBuffers;

/**
 * Writes stamped blocks to a {@link BlockTarget} at random places in a region, with a queue
 * depth, periodic flushes and some FUA writes, recording everything in a {@link WriteLedger}.
 * Two writes to the same block are never in flight at once. A seeded {@link Random} picks
 * places and sizes, so a run replays from its seed (the order of completions still depends on
 * timing).
 *
 * <p>Use {@link #run(long)} for a fixed number of writes or {@link #start()} for a background
 * run. Not thread-safe itself: one run at a time.
 */
public final class Workload {
    private final BlockTarget target;
    private final WriteLedger ledger;
    private final long writer;
    private final long seed;
    private final long from;
    private final long to;
    private final int maxBlocks;
    private final int queueDepth;
    private final int flushEvery;
    private final int fuaPercent;
    private final boolean stopOnError;

    private final AtomicLong issued = new AtomicLong();
    private final AtomicLong acknowledged = new AtomicLong();
    private final AtomicLong failed = new AtomicLong();
    private final AtomicLong flushes = new AtomicLong();
    private final AtomicLong bytes = new AtomicLong();
    private final List<Throwable> errors = Collections.synchronizedList(new ArrayList<>());
    private final Set<Long> busy = ConcurrentHashMap.newKeySet();
    private volatile boolean stopping;

    /** What a run did. */
    public record Result(
            long issued, long acknowledged, long failed, long flushes, long bytes, List<Throwable> errors) {}

    private Workload(Builder b) {
        this.target = b.target;
        this.ledger = b.ledger;
        this.writer = b.writer;
        this.seed = b.seed;
        this.from = b.from;
        this.to = b.to < 0 ? b.target.size() : b.to;
        this.maxBlocks = b.maxBlocks;
        this.queueDepth = b.queueDepth;
        this.flushEvery = b.flushEvery;
        this.fuaPercent = b.fuaPercent;
        this.stopOnError = b.stopOnError;
        if (from % StampedBlock.SIZE != 0 || to % StampedBlock.SIZE != 0 || to - from < StampedBlock.SIZE) {
            throw new IllegalArgumentException("region [" + from + ", " + to + ") is not whole 4 KiB blocks");
        }
    }

    public static Builder builder(BlockTarget target, WriteLedger ledger) {
        return new Builder(target, ledger);
    }

    /** Issues {@code writes} writes (fewer if stopped) and waits for all of them. */
    public Result run(long writes) throws InterruptedException {
        Semaphore permits = new Semaphore(queueDepth);
        Random r = new Random(seed);
        long blocksInRegion = (to - from) / StampedBlock.SIZE;
        long nextId = writer << 40;
        for (long n = 0; n < writes && !stopping; n++) {
            permits.acquire();
            int count = 1 + r.nextInt(Math.min(maxBlocks, (int) Math.min(blocksInRegion, Integer.MAX_VALUE)));
            long first = -1;
            for (int tries = 0; tries < 64 && first < 0; tries++) {
                long b = (r.nextLong() & Long.MAX_VALUE) % (blocksInRegion - count + 1);
                if (reserve(b, count)) first = b;
            }
            if (first < 0) {
                permits.release();
                continue;
            }
            long offset = from + first * StampedBlock.SIZE;
            long id = ++nextId;
            boolean fua = r.nextInt(100) < fuaPercent;
            ByteBuffer buf = AlignedBuffers.allocate(count * StampedBlock.SIZE);
            for (int i = 0; i < count; i++) {
                StampedBlock.stamp(buf, i * StampedBlock.SIZE, offset + (long) i * StampedBlock.SIZE, writer, id);
            }
            ledger.issued(offset, count, id);
            issued.incrementAndGet();
            long firstBlock = first;
            int blocks = count;
            target.writeAsync(offset, buf, fua).whenComplete((v, t) -> {
                if (t == null) {
                    ledger.acknowledged(offset, blocks, id, fua);
                    acknowledged.incrementAndGet();
                    bytes.addAndGet((long) blocks * StampedBlock.SIZE);
                } else {
                    ledger.failed(offset, blocks, id);
                    failed.incrementAndGet();
                    if (errors.size() < 16) errors.add(t);
                    if (stopOnError) stopping = true;
                }
                for (int i = 0; i < blocks; i++) busy.remove(firstBlock + i);
                permits.release();
            });
            if (flushEvery > 0 && (n + 1) % flushEvery == 0) {
                long token = ledger.flushIssued();
                flushes.incrementAndGet();
                target.flushAsync().whenComplete((v, t) -> {
                    if (t == null) ledger.flushCompleted(token);
                });
            }
        }
        permits.acquire(queueDepth);
        permits.release(queueDepth);
        return result();
    }

    private boolean reserve(long first, int count) {
        for (int i = 0; i < count; i++) {
            if (!busy.add(first + i)) {
                for (int j = 0; j < i; j++) busy.remove(first + j);
                return false;
            }
        }
        return true;
    }

    /** Runs in a background thread until {@link Handle#stop()}. */
    public Handle start() {
        Handle h = new Handle();
        h.thread.start();
        return h;
    }

    /** Stops a run at its next write; in-flight writes still finish. */
    public void stop() {
        stopping = true;
    }

    public Result result() {
        return new Result(
                issued.get(), acknowledged.get(), failed.get(), flushes.get(), bytes.get(), List.copyOf(errors));
    }

    /** A background run. */
    public final class Handle {
        private final Thread thread;
        private volatile Throwable failure;

        private Handle() {
            thread = new Thread(
                    () -> {
                        try {
                            run(Long.MAX_VALUE);
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        } catch (RuntimeException e) {
                            failure = e;
                        }
                    },
                    "workload-" + writer);
            thread.setDaemon(true);
        }

        /** Stops the run and waits (up to a minute) until every write it issued completed. */
        public Result stop() throws InterruptedException {
            stopping = true;
            thread.join(TimeUnit.MINUTES.toMillis(1));
            if (failure != null) throw new IllegalStateException("workload failed", failure);
            return result();
        }

        /** Writes acknowledged so far. */
        public long acknowledged() {
            return acknowledged.get();
        }
    }

    /** Builder; not thread-safe. */
    public static final class Builder {
        private final BlockTarget target;
        private final WriteLedger ledger;
        private long writer = 1;
        private long seed = 1;
        private long from;
        private long to = -1;
        private int maxBlocks = 16;
        private int queueDepth = 16;
        private int flushEvery = 64;
        private int fuaPercent = 5;
        private boolean stopOnError;

        private Builder(BlockTarget target, WriteLedger ledger) {
            this.target = Objects.requireNonNull(target);
            this.ledger = Objects.requireNonNull(ledger);
        }

        /** Writer id (1..16777215), stamped into every block. */
        public Builder writer(long v) {
            if (v < 1 || v >= (1L << 24)) throw new IllegalArgumentException("writer must be 1..2^24-1: " + v);
            this.writer = v;
            return this;
        }

        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        /** Byte range written, whole 4 KiB blocks (default: the whole target). */
        public Builder region(long fromBytes, long toBytes) {
            this.from = fromBytes;
            this.to = toBytes;
            return this;
        }

        /** Largest write, in 4 KiB blocks. */
        public Builder maxBlocks(int v) {
            if (v < 1) throw new IllegalArgumentException("maxBlocks must be >= 1");
            this.maxBlocks = v;
            return this;
        }

        public Builder queueDepth(int v) {
            if (v < 1) throw new IllegalArgumentException("queueDepth must be >= 1");
            this.queueDepth = v;
            return this;
        }

        /** A flush after every {@code v} writes (0: never). */
        public Builder flushEvery(int v) {
            this.flushEvery = v;
            return this;
        }

        public Builder fuaPercent(int v) {
            this.fuaPercent = v;
            return this;
        }

        /** Stop issuing at the first failed write (default: record it and go on). */
        public Builder stopOnError(boolean v) {
            this.stopOnError = v;
            return this;
        }

        public Workload build() {
            return new Workload(this);
        }
    }
}
