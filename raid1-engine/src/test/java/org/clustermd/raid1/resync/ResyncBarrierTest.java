package org.clustermd.raid1.resync;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResyncBarrierTest {
    private static final long LONG = Timing.seconds(30).toNanos();
    private static final long U = ResyncBarrier.UNIT_SECTORS;
    private final ExecutorService pool = Executors.newCachedThreadPool();
    private final ResyncBarrier barrier = new ResyncBarrier();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** Gives a blocked task time to run; only ever used to show something did NOT happen. */
    private static void settle() throws InterruptedException {
        Thread.sleep(100);
    }

    @Test
    void normalIoPassesWhenNoBarrierIsRaised() throws Exception {
        barrier.waitBarrier(0, 8, LONG);
        barrier.waitBarrier(5 * U, 2 * U, LONG);
        assertThat(barrier.pending()).isEqualTo(3);
        barrier.allowBarrier(0, 8);
        barrier.allowBarrier(5 * U, 2 * U);
        assertThat(barrier.pending()).isZero();
    }

    @Test
    void raiseWaitsForNormalIoInItsBucketOnly() throws Exception {
        barrier.waitBarrier(10, 8, LONG);
        assertThat(barrier.raiseBarrier(3 * U)).as("another bucket is free").isTrue();
        barrier.lowerBarrier(3 * U);

        Future<Boolean> raise = pool.submit(() -> barrier.raiseBarrier(0));
        settle();
        assertThat(raise).isNotDone();
        barrier.allowBarrier(10, 8);
        assertThat(raise.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        barrier.lowerBarrier(0);
    }

    @Test
    void normalIoWaitsForARaisedBarrierWithABound() throws Exception {
        assertThat(barrier.raiseBarrier(U + 5)).isTrue();
        assertThatThrownBy(() -> barrier.waitBarrier(U, 8, TimeUnit.MILLISECONDS.toNanos(50)))
                .isInstanceOf(TimeoutException.class);
        assertThat(barrier.pending())
                .as("a timed-out wait leaves nothing counted")
                .isZero();
        Future<?> w = pool.submit(() -> {
            barrier.waitBarrier(U, 8, LONG);
            return null;
        });
        settle();
        assertThat(w).isNotDone();
        barrier.lowerBarrier(U + 5);
        w.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(barrier.pending()).isEqualTo(1);
    }

    @Test
    void aWaitingWriterGoesBeforeTheNextResyncRequest() throws Exception {
        List<String> order = new java.util.concurrent.CopyOnWriteArrayList<>();
        assertThat(barrier.raiseBarrier(0)).isTrue();
        Future<?> writer = pool.submit(() -> {
            barrier.waitBarrier(16, 8, LONG);
            order.add("write");
            barrier.allowBarrier(16, 8);
            return null;
        });
        settle();
        Future<?> nextResync = pool.submit(() -> {
            barrier.raiseBarrier(2048 - 128);
            order.add("resync");
            barrier.lowerBarrier(2048 - 128);
            return null;
        });
        settle();
        assertThat(nextResync).as("held back while a writer waits").isNotDone();
        barrier.lowerBarrier(0);
        writer.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        nextResync.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(order).containsExactly("write", "resync");
    }

    @Test
    void aRequestSpanningBucketsHoldsNoneWhileItWaits() throws Exception {
        assertThat(barrier.raiseBarrier(U)).isTrue();
        Future<?> spanning = pool.submit(() -> {
            barrier.waitBarrier(U - 8, 16, LONG);
            return null;
        });
        settle();
        assertThat(spanning).isNotDone();
        assertThat(barrier.pending()).as("no bucket held while waiting").isZero();
        barrier.lowerBarrier(U);
        spanning.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(barrier.pending()).isEqualTo(2);
    }

    /** A receiver's range drain: it waits for requests in flight in the range, never for others. */
    @Test
    void aRangeDrainWaitsForRequestsInTheRangeOnly() throws Exception {
        barrier.waitBarrier(40 * U, 8, LONG); // outside [0, 32 U)
        barrier.awaitRangeIdle(0, 32 * U, LONG);

        barrier.waitBarrier(5 * U + 8, 8, LONG); // inside
        assertThatThrownBy(() -> barrier.awaitRangeIdle(0, 32 * U, TimeUnit.MILLISECONDS.toNanos(50)))
                .isInstanceOf(TimeoutException.class);
        Future<?> drain = pool.submit(() -> {
            barrier.awaitRangeIdle(0, 32 * U, LONG);
            return null;
        });
        settle();
        assertThat(drain).as("the request in the range is still in flight").isNotDone();
        barrier.allowBarrier(5 * U + 8, 8);
        drain.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);

        barrier.waitBarrier(7 * U, 8, LONG);
        barrier.queued(7 * U, 8, +1);
        barrier.awaitRangeIdle(0, 32 * U, LONG); // a parked request is not waited for, as in freeze
        assertThat(barrier.pending()).isEqualTo(2);
    }

    @Test
    void freezeWaitsForUnparkedRequestsOnly() throws Exception {
        barrier.waitBarrier(0, 8, LONG);
        barrier.waitBarrier(U, 8, LONG);
        assertThatThrownBy(() -> barrier.freeze(1, TimeUnit.MILLISECONDS.toNanos(50)))
                .isInstanceOf(TimeoutException.class);
        barrier.unfreeze();
        barrier.queued(U, 8, +1);
        barrier.freeze(1, LONG); // the caller's own request is the one left
        assertThat(barrier.isFrozen()).isTrue();
        Future<?> blocked = pool.submit(() -> {
            barrier.waitReadBarrier(77 * U, 8, LONG);
            return null;
        });
        settle();
        assertThat(blocked).as("reads wait while frozen").isNotDone();
        barrier.unfreeze();
        blocked.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void interruptingTheResyncReleasesAWaitingRaise() throws Exception {
        barrier.waitBarrier(0, 8, LONG);
        Future<Boolean> raise = pool.submit(() -> barrier.raiseBarrier(0));
        settle();
        barrier.interruptResync();
        assertThat(raise.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS))
                .isFalse();
        barrier.allowBarrier(0, 8);
        barrier.resetResyncInterrupt();
        assertThat(barrier.raiseBarrier(0)).isTrue();
        barrier.lowerBarrier(0);
        assertThat(barrier.unqueuedPending()).isZero();
    }

    /** Normal and resync requests are never inside the same bucket at once, under any schedule. */
    @ParameterizedTest
    @ValueSource(longs = {1, 2, 3})
    void resyncAndNormalIoNeverOverlapInABucket(long seed) throws Exception {
        AtomicIntegerArray normalIn = new AtomicIntegerArray(ResyncBarrier.BUCKETS);
        AtomicIntegerArray resyncIn = new AtomicIntegerArray(ResyncBarrier.BUCKETS);
        AtomicReference<String> violation = new AtomicReference<>();
        long units = 8;
        List<Future<?>> tasks = new ArrayList<>();
        for (int t = 0; t < 3; t++) {
            long s = seed * 31 + t;
            tasks.add(pool.submit(() -> {
                Random r = new Random(s);
                for (int i = 0; i < 3000; i++) {
                    long sector = r.nextInt((int) (units * U - 64));
                    long len = 8 + r.nextInt(64);
                    barrier.waitBarrier(sector, len, LONG);
                    int b0 = ResyncBarrier.bucketOf(sector);
                    int b1 = ResyncBarrier.bucketOf(sector + len - 1);
                    normalIn.incrementAndGet(b0);
                    if (b1 != b0) normalIn.incrementAndGet(b1);
                    Thread.yield(); // stay inside a while
                    if (resyncIn.get(b0) > 0 || resyncIn.get(b1) > 0) violation.set("normal saw resync, seed " + seed);
                    normalIn.decrementAndGet(b0);
                    if (b1 != b0) normalIn.decrementAndGet(b1);
                    barrier.allowBarrier(sector, len);
                }
                return null;
            }));
        }
        tasks.add(pool.submit(() -> {
            Random r = new Random(seed);
            for (int i = 0; i < 3000; i++) {
                long sector = r.nextInt((int) units) * U + r.nextInt(1024);
                int b = ResyncBarrier.bucketOf(sector);
                assertThat(barrier.raiseBarrier(sector)).isTrue();
                resyncIn.incrementAndGet(b);
                Thread.yield();
                if (normalIn.get(b) > 0) violation.set("resync saw normal, seed " + seed);
                resyncIn.decrementAndGet(b);
                barrier.lowerBarrier(sector);
            }
            return null;
        }));
        for (Future<?> f : tasks) f.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(violation.get()).isNull();
        assertThat(barrier.unqueuedPending()).isZero();
    }
}
