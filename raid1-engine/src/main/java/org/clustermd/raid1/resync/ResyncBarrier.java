package org.clustermd.raid1.resync;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * raid1's I/O barrier ({@code raise_barrier}, {@code lower_barrier}, {@code wait_barrier},
 * {@code allow_barrier}, {@code freeze_array}, {@code unfreeze_array}): resync I/O and normal
 * I/O never run at the same time in the same barrier unit, and the array can be quiesced.
 *
 * <p>The array is cut into units of {@link #UNIT_SECTORS} sectors (1 MiB, the largest resync
 * request), hashed into {@link #BUCKETS} buckets by unit number modulo the bucket count. Per
 * bucket: {@code nr_pending} (normal requests in flight), {@code nr_waiting} (normal requests
 * waiting for the barrier), {@code nr_queued} (in-flight requests parked for the error handler or
 * a superblock update, which a freeze must not wait for) and {@code barrier} (resync requests in
 * flight). As in md:
 * <ul>
 *   <li>A normal request counts itself pending and proceeds unless a barrier is raised in one of
 *       its buckets or the array is frozen; then it un-counts itself, waits, and tries again.</li>
 *   <li>A resync request first waits until no normal request waits in its bucket (normal I/O
 *       has priority, so writers are not starved), raises the barrier, then waits for the
 *       bucket's pending normal requests to drain and for fewer than {@link #RESYNC_DEPTH}
 *       resync requests to be in flight there.</li>
 *   <li>{@link #freeze(int, long)} blocks all new I/O and waits until only {@code extra}
 *       unqueued requests are left (the caller's own).</li>
 * </ul>
 * A normal request that spans several buckets takes them all or none, so it never holds one
 * bucket while it waits for another (md splits such bios; we cannot, the caller sees one
 * request).
 *
 * <p>The fast paths (no barrier, not frozen) are a few atomic operations and take no lock;
 * waiting uses one lock and condition, and wakers take the lock only when someone sleeps.
 *
 * <p>Thread-safe.
 */
public final class ResyncBarrier {
    /** log2 of the unit in sectors: 2048 sectors = 1 MiB. */
    public static final int UNIT_SHIFT = 11;
    /** Sectors per barrier unit. */
    public static final long UNIT_SECTORS = 1L << UNIT_SHIFT;
    /** Buckets the units are hashed into (md: 1024). */
    public static final int BUCKETS = 1024;
    /** Most resync requests in flight in one bucket (md's RESYNC_DEPTH). */
    public static final int RESYNC_DEPTH = 32;

    private final AtomicIntegerArray nrPending = new AtomicIntegerArray(BUCKETS);
    private final AtomicIntegerArray nrWaiting = new AtomicIntegerArray(BUCKETS);
    private final AtomicIntegerArray nrQueued = new AtomicIntegerArray(BUCKETS);
    private final AtomicIntegerArray barrier = new AtomicIntegerArray(BUCKETS);
    private final AtomicInteger nrSyncPending = new AtomicInteger();
    private final AtomicInteger sleepers = new AtomicInteger();
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    /** Frozen depth: freeze may nest (error handler inside a quiesce). Written under the lock. */
    private volatile int frozen;
    /** Set by {@link #interruptResync()}: raiseBarrier gives up. Written under the lock. */
    private volatile boolean resyncInterrupted;

    /** The bucket of the unit holding {@code sector}. */
    public static int bucketOf(long sector) {
        return (int) ((sector >>> UNIT_SHIFT) % BUCKETS);
    }

    /** First sector after the unit that holds {@code sector}. */
    public static long unitEnd(long sector) {
        return ((sector >>> UNIT_SHIFT) + 1) << UNIT_SHIFT;
    }

    // ------------------------------------------------------------------ normal I/O

    /**
     * md's {@code wait_barrier} for a normal write (or any request) over {@code [sector,
     * sector + sectors)}: returns with the request counted pending in every bucket it touches.
     * Match with {@link #allowBarrier}.
     *
     * @throws TimeoutException if the barrier stayed up for {@code timeoutNanos} (nothing is counted)
     * @throws InterruptedException if interrupted while waiting (nothing is counted)
     */
    public void waitBarrier(long sector, long sectors, long timeoutNanos)
            throws TimeoutException, InterruptedException {
        int[] buckets = buckets(sector, sectors);
        for (int b : buckets) nrPending.incrementAndGet(b);
        if (frozen == 0 && noBarrier(buckets)) return;
        for (int b : buckets) nrPending.decrementAndGet(b);
        wake();
        slowWait(buckets, timeoutNanos, false);
    }

    /**
     * {@link #waitBarrier}'s fast path alone, for a caller that must not block: true with the
     * request counted pending when no barrier is up over the range; false with nothing counted.
     */
    public boolean tryWaitBarrier(long sector, long sectors) {
        int[] buckets = buckets(sector, sectors);
        for (int b : buckets) nrPending.incrementAndGet(b);
        if (frozen == 0 && noBarrier(buckets)) return true;
        for (int b : buckets) nrPending.decrementAndGet(b);
        wake();
        return false;
    }

    /**
     * md's {@code wait_read_barrier}: reads only wait while the array is frozen (a resync never
     * writes a leg a read could be balanced to, see the read path).
     */
    public void waitReadBarrier(long sector, long sectors, long timeoutNanos)
            throws TimeoutException, InterruptedException {
        int[] buckets = buckets(sector, sectors);
        for (int b : buckets) nrPending.incrementAndGet(b);
        if (frozen == 0) return;
        for (int b : buckets) nrPending.decrementAndGet(b);
        wake();
        slowWait(buckets, timeoutNanos, true);
    }

    /** md's {@code allow_barrier}: the request counted by a wait is over. */
    public void allowBarrier(long sector, long sectors) {
        for (int b : buckets(sector, sectors)) nrPending.decrementAndGet(b);
        wake();
    }

    /**
     * The pending request over this range is parked (for the error handler or a superblock
     * update) ({@code delta} +1) or resumes ({@code -1}): a freeze does not wait for parked
     * requests, or a quiesce would wait for the thread that must first finish the quiesce.
     */
    public void queued(long sector, long sectors, int delta) {
        for (int b : buckets(sector, sectors)) nrQueued.addAndGet(b, delta);
        wake();
    }

    private void slowWait(int[] buckets, long timeoutNanos, boolean read)
            throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        lock.lock();
        sleepers.incrementAndGet();
        try {
            for (int b : buckets) nrWaiting.incrementAndGet(b);
            try {
                for (; ; ) {
                    if (frozen == 0 && (read || noBarrier(buckets))) {
                        for (int b : buckets) nrPending.incrementAndGet(b);
                        // Dekker with raiseBarrier: a barrier raised after our check sees our count
                        if (frozen == 0 && (read || noBarrier(buckets))) return;
                        for (int b : buckets) nrPending.decrementAndGet(b);
                        changed.signalAll();
                    }
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        throw new TimeoutException(
                                "I/O barrier still raised after " + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms"
                                        + (frozen > 0 ? " (array frozen)" : ""));
                    }
                    changed.awaitNanos(left);
                }
            } finally {
                for (int b : buckets) nrWaiting.decrementAndGet(b);
                changed.signalAll();
            }
        } finally {
            sleepers.decrementAndGet();
            lock.unlock();
        }
    }

    private boolean noBarrier(int[] buckets) {
        for (int b : buckets) {
            if (barrier.get(b) != 0) return false;
        }
        return true;
    }

    // ------------------------------------------------------------------ resync I/O

    /**
     * md's {@code raise_barrier} for one resync request starting at {@code sector} (inside one
     * unit). Returns false, with nothing raised, if {@link #interruptResync()} was called.
     */
    public boolean raiseBarrier(long sector) throws InterruptedException {
        int b = bucketOf(sector);
        lock.lock();
        sleepers.incrementAndGet();
        try {
            while (nrWaiting.get(b) != 0 && !resyncInterrupted) changed.await();
            if (resyncInterrupted) return false;
            barrier.incrementAndGet(b);
            try {
                while (!resyncInterrupted && (frozen > 0 || nrPending.get(b) != 0 || barrier.get(b) > RESYNC_DEPTH)) {
                    changed.await();
                }
            } catch (InterruptedException e) {
                barrier.decrementAndGet(b);
                changed.signalAll();
                throw e;
            }
            if (resyncInterrupted) {
                barrier.decrementAndGet(b);
                changed.signalAll();
                return false;
            }
            nrSyncPending.incrementAndGet();
            return true;
        } finally {
            sleepers.decrementAndGet();
            lock.unlock();
        }
    }

    /** md's {@code lower_barrier}: the resync request at {@code sector} is over. */
    public void lowerBarrier(long sector) {
        barrier.decrementAndGet(bucketOf(sector));
        nrSyncPending.decrementAndGet();
        wake();
    }

    /** md's MD_RECOVERY_INTR as seen by {@code raise_barrier}: waiting raises give up. */
    public void interruptResync() {
        lock.lock();
        try {
            resyncInterrupted = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Allows resync barriers again (a new sync thread starts). */
    public void resetResyncInterrupt() {
        lock.lock();
        try {
            resyncInterrupted = false;
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ freezing

    /**
     * md's {@code freeze_array(conf, extra)}: stops new normal and resync I/O and waits until
     * only {@code extra} unparked requests are in flight (the caller's own). Match with
     * {@link #unfreeze()}, also when this throws.
     *
     * @throws TimeoutException if requests did not drain within {@code timeoutNanos} (still frozen)
     */
    public void freeze(int extra, long timeoutNanos) throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        lock.lock();
        sleepers.incrementAndGet();
        try {
            frozen++;
            changed.signalAll();
            while (unqueuedPending() != extra) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException(unqueuedPending() + " requests still in flight after "
                            + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
                }
                changed.awaitNanos(left);
            }
        } finally {
            sleepers.decrementAndGet();
            lock.unlock();
        }
    }

    /**
     * The first half of {@link #freeze(int, long)}: stops new normal and resync I/O at once,
     * without waiting. Match with {@link #unfreeze()}.
     */
    public void block() {
        lock.lock();
        try {
            frozen++;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The second half of {@link #freeze(int, long)}: waits until only {@code extra} unparked
     * requests are in flight. Changes nothing when it times out.
     *
     * @throws TimeoutException if requests did not drain within {@code timeoutNanos}
     */
    public void awaitDrained(int extra, long timeoutNanos) throws TimeoutException, InterruptedException {
        long deadline = System.nanoTime() + timeoutNanos;
        lock.lock();
        sleepers.incrementAndGet();
        try {
            while (unqueuedPending() != extra) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException(unqueuedPending() + " requests still in flight after "
                            + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
                }
                changed.awaitNanos(left);
            }
        } finally {
            sleepers.decrementAndGet();
            lock.unlock();
        }
    }

    /**
     * The range drain of a node that received a peer's resync window: returns once every
     * unparked normal request that was in flight over {@code [sector, sector + sectors)} when it
     * was called has ended, i.e. once each bucket the range touches was seen at least once with
     * none pending. New requests are not held here: the caller has already made writes into the
     * range wait (they count themselves and then look at the window again, so either they see it
     * or this sees them). Buckets are shared by units {@link #BUCKETS} MiB apart, so a request
     * there is waited for too; I/O outside the range's buckets never is. Parked requests are not
     * waited for, as in {@link #freeze}.
     *
     * @throws TimeoutException if some bucket was never seen idle within {@code timeoutNanos}
     */
    public void awaitRangeIdle(long sector, long sectors, long timeoutNanos)
            throws TimeoutException, InterruptedException {
        int[] buckets = buckets(sector, sectors);
        boolean[] seenIdle = new boolean[buckets.length];
        int busy = buckets.length;
        long deadline = System.nanoTime() + timeoutNanos;
        lock.lock();
        // counted before the first look: an allowBarrier after it sees a sleeper and wakes us
        sleepers.incrementAndGet();
        try {
            for (; ; ) {
                for (int i = 0; i < buckets.length; i++) {
                    if (seenIdle[i]) continue;
                    int b = buckets[i];
                    if (nrPending.get(b) - nrQueued.get(b) <= 0) {
                        seenIdle[i] = true;
                        busy--;
                    }
                }
                if (busy == 0) return;
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new TimeoutException(busy + " of the range's " + buckets.length
                            + " barrier buckets still had requests in flight after "
                            + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms");
                }
                changed.awaitNanos(left);
            }
        } finally {
            sleepers.decrementAndGet();
            lock.unlock();
        }
    }

    /** md's {@code unfreeze_array}. */
    public void unfreeze() {
        lock.lock();
        try {
            if (frozen == 0) throw new IllegalStateException("unfreeze without freeze");
            frozen--;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Wakes every waiter so it re-checks (used when something outside changed, e.g. a window). */
    public void wakeAll() {
        lock.lock();
        try {
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** md's {@code get_unqueued_pending}: resync requests plus unparked normal requests. */
    public int unqueuedPending() {
        int n = nrSyncPending.get();
        for (int b = 0; b < BUCKETS; b++) n += nrPending.get(b) - nrQueued.get(b);
        return n;
    }

    /** Normal requests counted pending, parked ones included. */
    public int pending() {
        int n = 0;
        for (int b = 0; b < BUCKETS; b++) n += nrPending.get(b);
        return n;
    }

    public boolean isFrozen() {
        return frozen > 0;
    }

    private void wake() {
        if (sleepers.get() > 0) {
            lock.lock();
            try {
                changed.signalAll();
            } finally {
                lock.unlock();
            }
        }
    }

    private static int[] buckets(long sector, long sectors) {
        if (sector < 0 || sectors < 1) throw new IllegalArgumentException("bad range " + sector + "+" + sectors);
        long first = sector >>> UNIT_SHIFT;
        long last = (sector + sectors - 1) >>> UNIT_SHIFT;
        long n = Math.min(last - first + 1, BUCKETS);
        if (n == 1) return new int[] {(int) (first % BUCKETS)};
        int[] out = new int[(int) n];
        for (int i = 0; i < n; i++) out[i] = (int) ((first + i) % BUCKETS);
        return out;
    }
}
