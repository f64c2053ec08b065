package org.clustermd.raid1.io;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/**
 * I/O counters for one device or one array, kept the way the block layer keeps them: every
 * request is counted once when it starts ({@link #start()}) and once when it ends (one of the
 * {@code end...} methods). {@code io_ticks} is advanced with the kernel's stamp trick
 * (update_io_ticks): whoever moves the stamp forward adds the elapsed time if requests were in
 * flight, so no lock is taken on the I/O path.
 *
 * <p>Callers must pair each {@code start()} with exactly one {@code end...}, on every path,
 * including errors and rejections, or {@code inFlight} never returns to 0 (docs/lessons.md §26b).
 *
 * <p>Thread-safe and lock-free.
 */
public final class IoAccounting {
    private static final long NANOS_PER_MS = 1_000_000L;

    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicLong stamp = new AtomicLong(System.nanoTime());
    private final LongAdder ioTicks = new LongAdder();
    private final LongAdder timeInQueue = new LongAdder();
    private final LongAdder reads = new LongAdder();
    private final LongAdder readSectors = new LongAdder();
    private final LongAdder readTicks = new LongAdder();
    private final LongAdder writes = new LongAdder();
    private final LongAdder writeSectors = new LongAdder();
    private final LongAdder writeTicks = new LongAdder();
    private final LongAdder flushes = new LongAdder();
    private final LongAdder flushTicks = new LongAdder();
    private final LongAdder errors = new LongAdder();

    /**
     * Counts a request as in flight.
     *
     * @return the start time to pass to the matching {@code end...} call
     */
    public long start() {
        long now = System.nanoTime();
        tick(now, false);
        inFlight.incrementAndGet();
        return now;
    }

    /** Ends a read started at {@code startNanos}; {@code bytes} counts only when {@code ok}. */
    public void endRead(long startNanos, long bytes, boolean ok) {
        long d = end(startNanos, ok);
        reads.increment();
        readTicks.add(d);
        if (ok) {
            readSectors.add(bytes >>> 9);
        }
    }

    /** Ends a write started at {@code startNanos}; {@code bytes} counts only when {@code ok}. */
    public void endWrite(long startNanos, long bytes, boolean ok) {
        long d = end(startNanos, ok);
        writes.increment();
        writeTicks.add(d);
        if (ok) {
            writeSectors.add(bytes >>> 9);
        }
    }

    /** Ends a flush started at {@code startNanos}. */
    public void endFlush(long startNanos, boolean ok) {
        long d = end(startNanos, ok);
        flushes.increment();
        flushTicks.add(d);
    }

    private long end(long startNanos, boolean ok) {
        long now = System.nanoTime();
        tick(now, true);
        inFlight.decrementAndGet();
        long d = Math.max(0, now - startNanos);
        timeInQueue.add(d);
        if (!ok) {
            errors.increment();
        }
        return d;
    }

    private void tick(long now, boolean ending) {
        long s = stamp.get();
        if (now > s && stamp.compareAndSet(s, now) && (ending || inFlight.get() > 0)) {
            ioTicks.add(now - s);
        }
    }

    /** Requests started and not yet ended. */
    public int inFlight() {
        return inFlight.get();
    }

    /** A consistent-enough snapshot (each counter is read once; they are not read atomically). */
    public DiskStats snapshot() {
        long now = System.nanoTime();
        int f = inFlight.get();
        long busy = ioTicks.sum();
        if (f > 0) {
            busy += Math.max(0, now - stamp.get());
        }
        return new DiskStats(
                reads.sum(),
                readSectors.sum(),
                readTicks.sum() / NANOS_PER_MS,
                writes.sum(),
                writeSectors.sum(),
                writeTicks.sum() / NANOS_PER_MS,
                flushes.sum(),
                flushTicks.sum() / NANOS_PER_MS,
                f,
                busy / NANOS_PER_MS,
                timeInQueue.sum() / NANOS_PER_MS,
                errors.sum());
    }
}
