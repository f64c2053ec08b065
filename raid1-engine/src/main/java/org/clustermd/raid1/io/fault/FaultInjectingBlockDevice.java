package org.clustermd.raid1.io.fault;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.StampedLock;
import java.util.function.Supplier;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
import org.clustermd.raid1.io.DiskStats;
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.io.IoAccounting;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlockDevice} that wraps another and injects faults on command ({@link FaultControl}):
 * EIO by sector range, by count or always, dropped writes, added latency, and a power cut that
 * loses unflushed writes. With no rule set it passes every request through unchanged, so it can
 * sit under an array permanently (the integration harness and JMX switch it at run time).
 *
 * <h2>Power-cut model</h2>
 * Once {@link #armPowerCut() armed}, each write first saves the current contents of the blocks
 * it is about to overwrite, unless already saved since the last flush: that saved copy is the
 * block's last durable state. A successful flush discards the saved copies (everything is now
 * durable); a successful FUA write discards those of its own blocks. {@link #powerCut} restores
 * the saved copies (all, or a seeded random subset of blocks) onto the wrapped device and flushes
 * it. While armed, a flush is a barrier: it waits for writes in flight and holds new writes until
 * the wrapped device's flush returns, which makes "completed before the flush" exact. Arm while
 * the device is idle.
 *
 * <p>Closing this device closes the wrapped one. Statistics count every request this device
 * accepted, injected failures included (they are what the array saw).
 *
 * <p>Thread-safe: requests and control calls may come from any thread.
 */
public final class FaultInjectingBlockDevice extends ForwardingBlockDevice implements FaultControl {
    private static final Logger LOG = LoggerFactory.getLogger(FaultInjectingBlockDevice.class);
    private static final int EIO = 5;

    private final int bs;
    private final IoAccounting accounting = new IoAccounting();
    private final ScheduledExecutorService control;

    private final List<long[]> readRanges = new CopyOnWriteArrayList<>();
    private final List<long[]> writeRanges = new CopyOnWriteArrayList<>();
    private final AtomicInteger nextReads = new AtomicInteger();
    private final AtomicInteger nextWrites = new AtomicInteger();
    private volatile boolean allReads;
    private volatile boolean allWrites;
    private volatile boolean failFlushes;
    private volatile boolean drop;
    private volatile long readLatencyNanos;
    private volatile long writeLatencyNanos;
    private final AtomicLong injected = new AtomicLong();

    /** Writes hold it shared while armed; flush and power cut take it exclusively. */
    private final StampedLock barrier = new StampedLock();

    private volatile boolean armed;
    private volatile boolean cut;
    private volatile boolean closed;
    /** Block index to its last durable contents; guarded by itself. */
    private final TreeMap<Long, byte[]> undo = new TreeMap<>();

    /** Wraps {@code inner}; this device owns it from now on. */
    public FaultInjectingBlockDevice(BlockDevice inner) {
        super(inner);
        this.bs = inner.logicalBlockSize();
        ScheduledThreadPoolExecutor ex =
                new ScheduledThreadPoolExecutor(1, r -> new EngineThread(r, "fault-" + inner.name()));
        ex.setRemoveOnCancelPolicy(true);
        this.control = ex;
    }

    // ---- BlockDevice ------------------------------------------------------------------------

    @Override
    public int logicalBlockSize() {
        return bs;
    }

    @Override
    public DiskStats stats() {
        return accounting.snapshot();
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        if (!wellFormed(offset, dst)) {
            // malformed or closed: let the real device produce the real error, uncounted here
            return inner().readAsync(offset, dst);
        }
        long start = accounting.start();
        int len = dst.remaining();
        CompletableFuture<Void> f = later(readLatencyNanos, () -> doRead(offset, dst));
        return f.whenComplete((v, t) -> accounting.endRead(start, len, t == null));
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        if (!wellFormed(offset, src)) {
            return inner().writeAsync(offset, src, fua);
        }
        long start = accounting.start();
        int len = src.remaining();
        CompletableFuture<Void> f = later(writeLatencyNanos, () -> doWrite(offset, src, fua));
        return f.whenComplete((v, t) -> accounting.endWrite(start, len, t == null));
    }

    @Override
    public CompletableFuture<Void> flushAsync() {
        if (closed) {
            return inner().flushAsync(); // fails with CLOSED
        }
        long start = accounting.start();
        CompletableFuture<Void> f;
        if (cut || failFlushes) {
            f = injectedFailure("flush", -1, 0);
        } else if (armed) {
            f = CompletableFuture.runAsync(this::barrierFlush, control);
        } else {
            f = inner().flushAsync();
        }
        return f.whenComplete((v, t) -> accounting.endFlush(start, t == null));
    }

    @Override
    public void close() throws IOException {
        closed = true;
        control.shutdownNow();
        inner().close();
    }

    private boolean wellFormed(long offset, ByteBuffer buf) {
        if (closed || buf == null || !buf.isDirect() || buf.remaining() == 0) {
            return false;
        }
        int len = buf.remaining();
        return offset >= 0
                && offset % bs == 0
                && len % bs == 0
                && offset <= inner().size() - len
                && AlignedBuffers.isAligned(buf, bs);
    }

    private CompletableFuture<Void> later(long delayNanos, Supplier<CompletableFuture<Void>> op) {
        if (delayNanos <= 0) {
            return op.get();
        }
        CompletableFuture<Void> result = new CompletableFuture<>();
        try {
            control.schedule(
                    () -> {
                        op.get().whenComplete((v, t) -> {
                            if (t == null) {
                                result.complete(null);
                            } else {
                                result.completeExceptionally(t);
                            }
                        });
                    },
                    delayNanos,
                    TimeUnit.NANOSECONDS);
        } catch (java.util.concurrent.RejectedExecutionException e) {
            result.completeExceptionally(
                    new BlockDeviceException(BlockDeviceException.Code.CLOSED, name(), "device is closed"));
        }
        return result;
    }

    private CompletableFuture<Void> doRead(long offset, ByteBuffer dst) {
        int len = dst.remaining();
        if (cut || allReads || takeOne(nextReads) || overlaps(readRanges, offset, len)) {
            return injectedFailure("read", offset, len);
        }
        return inner().readAsync(offset, dst);
    }

    private CompletableFuture<Void> doWrite(long offset, ByteBuffer src, boolean fua) {
        int len = src.remaining();
        if (cut || allWrites || (fua && failFlushes) || takeOne(nextWrites) || overlaps(writeRanges, offset, len)) {
            return injectedFailure("write", offset, len);
        }
        if (drop) {
            injected.incrementAndGet();
            return CompletableFuture.completedFuture(null);
        }
        if (!armed) {
            return inner().writeAsync(offset, src, fua);
        }
        long stamp = barrier.readLock();
        try {
            if (cut) {
                barrier.unlockRead(stamp);
                return injectedFailure("write", offset, len);
            }
            saveDurableContents(offset, len);
        } catch (IOException e) {
            barrier.unlockRead(stamp);
            return CompletableFuture.failedFuture(e);
        } catch (RuntimeException e) {
            barrier.unlockRead(stamp);
            throw e;
        }
        return inner().writeAsync(offset, src, fua).whenComplete((v, t) -> {
            try {
                if (t == null && fua) {
                    synchronized (undo) {
                        undo.subMap(offset / bs, (offset + len) / bs).clear();
                    }
                }
            } finally {
                barrier.unlockRead(stamp);
            }
        });
    }

    private void saveDurableContents(long offset, int len) throws IOException {
        long first = offset / bs;
        int blocks = len / bs;
        synchronized (undo) {
            boolean all = true;
            for (int i = 0; i < blocks && all; i++) {
                all = undo.containsKey(first + i);
            }
            if (all) {
                return;
            }
        }
        ByteBuffer old = AlignedBuffers.allocate(len);
        inner().read(offset, old);
        synchronized (undo) {
            for (int i = 0; i < blocks; i++) {
                byte[] b = new byte[bs];
                old.get(i * bs, b);
                undo.putIfAbsent(first + i, b);
            }
        }
    }

    private void barrierFlush() {
        long stamp = barrier.writeLock();
        try {
            if (cut) {
                throw new CompletionException(injectedError("flush", -1, 0));
            }
            inner().flush();
            synchronized (undo) {
                undo.clear();
            }
        } catch (IOException e) {
            throw new CompletionException(e);
        } finally {
            barrier.unlockWrite(stamp);
        }
    }

    private static boolean takeOne(AtomicInteger counter) {
        int n;
        do {
            n = counter.get();
            if (n <= 0) {
                return false;
            }
        } while (!counter.compareAndSet(n, n - 1));
        return true;
    }

    private static boolean overlaps(List<long[]> ranges, long offset, int len) {
        if (ranges.isEmpty()) {
            return false;
        }
        long lo = offset / SECTOR_SIZE;
        long hi = (offset + len + SECTOR_SIZE - 1) / SECTOR_SIZE;
        for (long[] r : ranges) {
            if (lo < r[1] && r[0] < hi) {
                return true;
            }
        }
        return false;
    }

    private CompletableFuture<Void> injectedFailure(String op, long offset, int len) {
        return CompletableFuture.failedFuture(injectedError(op, offset, len));
    }

    private BlockDeviceException injectedError(String op, long offset, int len) {
        injected.incrementAndGet();
        String where = offset < 0 ? "" : " at sector " + offset / SECTOR_SIZE + " (+" + len / SECTOR_SIZE + ")";
        String why = cut ? "power is cut" : "injected fault";
        return new BlockDeviceException(
                BlockDeviceException.Code.IO_ERROR,
                name(),
                EIO,
                op + where + ": Input/output error (" + why + ")",
                null);
    }

    // ---- FaultControl -----------------------------------------------------------------------

    @Override
    public void failReads(long fromSector, long toSector) {
        readRanges.add(range(fromSector, toSector));
    }

    @Override
    public void failWrites(long fromSector, long toSector) {
        writeRanges.add(range(fromSector, toSector));
    }

    private static long[] range(long from, long to) {
        if (from < 0 || to <= from) {
            throw new IllegalArgumentException("bad sector range [" + from + ", " + to + ")");
        }
        return new long[] {from, to};
    }

    @Override
    public void failNextReads(int count) {
        nextReads.addAndGet(Math.max(0, count));
    }

    @Override
    public void failNextWrites(int count) {
        nextWrites.addAndGet(Math.max(0, count));
    }

    @Override
    public void failAllReads(boolean on) {
        allReads = on;
    }

    @Override
    public void failAllWrites(boolean on) {
        allWrites = on;
    }

    @Override
    public void failFlushes(boolean on) {
        failFlushes = on;
    }

    @Override
    public void dropWrites(boolean on) {
        drop = on;
    }

    @Override
    public void setReadLatencyMicros(long micros) {
        readLatencyNanos = TimeUnit.MICROSECONDS.toNanos(Math.max(0, micros));
    }

    @Override
    public void setWriteLatencyMicros(long micros) {
        writeLatencyNanos = TimeUnit.MICROSECONDS.toNanos(Math.max(0, micros));
    }

    @Override
    public void clearFaults() {
        readRanges.clear();
        writeRanges.clear();
        nextReads.set(0);
        nextWrites.set(0);
        allReads = false;
        allWrites = false;
        failFlushes = false;
        drop = false;
        readLatencyNanos = 0;
        writeLatencyNanos = 0;
    }

    @Override
    public void armPowerCut() {
        armed = true;
    }

    @Override
    public void powerCut(PowerCutMode mode, long seed) {
        if (!armed) {
            throw new IllegalStateException(name() + ": power cut not armed (call armPowerCut() before the writes)");
        }
        cut = true;
        long stamp = barrier.writeLock();
        try {
            Map<Long, byte[]> saved;
            synchronized (undo) {
                saved = new TreeMap<>(undo);
                undo.clear();
            }
            Random random = new Random(seed);
            List<Long> lost = new ArrayList<>();
            ByteBuffer buf = AlignedBuffers.allocate(bs);
            for (Map.Entry<Long, byte[]> e : saved.entrySet()) {
                boolean keep = mode == PowerCutMode.KEEP_RANDOM_SUBSET && random.nextBoolean();
                if (!keep) {
                    buf.clear();
                    buf.put(e.getValue()).flip();
                    inner().write(e.getKey() * bs, buf);
                    lost.add(e.getKey());
                }
            }
            inner().flush();
            LOG.info(
                    "{}: power cut ({}, seed {}): {} of {} unflushed blocks lost",
                    name(),
                    mode,
                    seed,
                    lost.size(),
                    saved.size());
        } catch (IOException e) {
            throw new UncheckedIOException(name() + ": power cut rollback failed", e);
        } finally {
            barrier.unlockWrite(stamp);
        }
    }

    @Override
    public void powerOn() {
        cut = false;
    }

    @Override
    public boolean isPowerCut() {
        return cut;
    }

    @Override
    public int unflushedBlocks() {
        synchronized (undo) {
            return undo.size();
        }
    }

    @Override
    public long injectedFaults() {
        return injected.get();
    }

    @Override
    public String toString() {
        return "FaultInjectingBlockDevice[" + inner() + "]";
    }
}
