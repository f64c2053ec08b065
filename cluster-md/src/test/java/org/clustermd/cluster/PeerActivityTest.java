package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.ClusterOperations.Direction;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sync pass yields to another node's foreground I/O (docs/md-cluster-protocol.md §e.9, the
 * {@code foreground} lock of {@link PeerActivity}): md's idle check sees only this host's
 * requests, so md-cluster resyncs at full speed under a peer's writes. Real ZooKeeper, real leg
 * files, two nodes in this JVM.
 */
class PeerActivityTest {
    private static final long LEG_BYTES = 256L << 20;
    private static final int BLOCK = 4096;
    private static final Duration AWAIT = Timing.seconds(20);

    @TempDir
    Path dir;

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    private static ClusterFixture.Node start(ClusterFixture c, String name, UnaryOperator<ArrayOptions.Builder> o)
            throws Exception {
        return c.startNoWait(name, c.zk.connectString(), ClusterFixture.SESSION, o, UnaryOperator.identity());
    }

    @Test
    void aPeersWritesAreSeenByTheOtherNodeNotByItselfAndForgottenOnceItStops() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG_BYTES)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            assertThat(a.cluster.peersBusy()).as("nobody wrote yet").isFalse();
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<Long> writer = pool.submit(() -> writeUntilStopped(b, writing));
            await(a.cluster::peersBusy, "a sees b's writes");
            assertThat(b.cluster.peersBusy())
                    .as("b's own writes do not count as a peer's")
                    .isFalse();
            writing.set(false);
            assertThat(writer.get(AWAIT.toMillis(), TimeUnit.MILLISECONDS)).isPositive();
            await(() -> !a.cluster.peersBusy(), "a forgets b's writes once b is quiet");
        }
    }

    /** A busy peer that dies holds its CR only until its locks are purged: the pass is not slowed for good. */
    @Test
    void aBusyPeerThatDiesIsForgottenOnceItsLocksArePurged() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG_BYTES)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<Long> writer = pool.submit(() -> writeUntilStopped(b, writing));
            await(a.cluster::peersBusy, "a sees b's writes");
            c.expire(b); // b keeps writing until its fence fails its writes
            await(() -> !a.cluster.peersBusy(), "a forgets b once b's locks are purged");
            writing.set(false);
            try {
                writer.get(AWAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.ExecutionException expected) {
                // b's writes fail once it fenced itself
            }
        }
    }

    /**
     * The pass runs while b writes for a while: with the default sync_speed_min (1000 KiB/s) it
     * gets a few MiB far, at full speed (here a few hundred MiB/s) it would be done or nearly. Once
     * b stops it finishes, and the legs are identical.
     */
    @Test
    void aResyncKeepsToTheMinimumSpeedWhileAPeerWritesAndFinishesOnceThePeerStopped() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG_BYTES, false)) {
            ClusterFixture.Node a = start(c, "node-a", o -> o.startFrozen(true));
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            long size = a.array.size();
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<Long> writer = pool.submit(() -> writeUntilStopped(b, writing));
            await(a.cluster::peersBusy, "a sees b's writes");
            a.array.syncAction(SyncAction.IDLE); // unfrozen: a's resync starts now
            await(() -> a.array.syncStatus().equals("resync"), "a's pass starts");
            Thread.sleep(3_000); // a measuring period, not a bound: the pass runs under b's writes
            long reached = resyncPosition(a);
            assertThat(a.array.syncStatus())
                    .as("a's pass under b's writes is still running after 3 s (it reached %d bytes)", reached)
                    .isEqualTo("resync");
            assertThat(reached)
                    .as(
                            "a's pass under b's writes keeps to 1000 KiB/s (it reached %d of %d bytes in 3 s)",
                            reached, size)
                    .isLessThan(16L << 20);
            writing.set(false);
            assertThat(writer.get(AWAIT.toMillis(), TimeUnit.MILLISECONDS)).isPositive();
            assertThat(a.array.awaitSyncIdle(Timing.seconds(120)))
                    .hasValueSatisfying(r -> assertThat(r.completed()).isTrue());
            a.array.close();
            b.array.close();
            ResyncWindowTest.assertLegsIdentical(c, size);
        }
    }

    /**
     * Under a busy peer the pass drains its pipeline before each request (one in flight at a
     * time), before the pause at sync_max and after the resume alike: the speed is counted when a
     * request completes, so with the default depth of 8 a whole pipeline goes out before the
     * throttle sees any of it, and a pass that resumes with no recent I/O would send a burst into
     * the peer's writes. The legs' reads complete late here so that such a burst overlaps; a has
     * no foreground I/O, so every request on its legs' data areas is the pass's.
     */
    @Test
    void aPassUnderABusyPeerHasOneRequestInFlightBeforeAPauseAndAfterItsResume() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG_BYTES, false)) {
            long dataStart = c.created.dataOffset() * 512;
            List<FaultInjectingBlockDevice> slow = new CopyOnWriteArrayList<>();
            InFlight before = new InFlight();
            InFlight after = new InFlight();
            AtomicReference<InFlight> phase = new AtomicReference<>(before);
            ClusterFixture.Node a = c.startNoWait(
                    "node-a", c.zk.connectString(), ClusterFixture.SESSION, o -> o.startFrozen(true), d -> {
                        FaultInjectingBlockDevice f = new FaultInjectingBlockDevice(d);
                        slow.add(f);
                        return new CountingDataIo(f, dataStart, phase);
                    });
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            long size = a.array.size();
            long pauseAt = (4L << 20) / 512;
            a.array.syncSpeedMin(4_000); // the pass reaches its pause in about 2 s, not 8
            a.array.syncMax(pauseAt);
            slow.forEach(f -> f.setReadLatencyMicros(10_000));
            AtomicBoolean writing = new AtomicBoolean(true);
            Future<Long> writer = pool.submit(() -> writeUntilStopped(b, writing));
            try {
                await(a.cluster::peersBusy, "a sees b's writes");
                a.array.syncAction(SyncAction.IDLE);
                await(() -> resyncPosition(a) >= pauseAt * 512 && before.now() == 0, "a's pass pauses at sync_max");
                assertThat(a.array.syncStatus()).as("paused, not over").isEqualTo("resync");
                // long enough for the throttle's marks to move on: the pass resumes with no recent I/O
                Thread.sleep(2_000);
                phase.set(after);
                a.array.syncMax(Long.MAX_VALUE);
                await(() -> resyncPosition(a) >= (pauseAt << 1) * 512, "a's pass goes on after the resume");
                assertThat(a.cluster.peersBusy()).as("b was busy all along").isTrue();
                phase.set(new InFlight());
                assertThat(after.max())
                        .as("requests in flight under b's writes after the resume (a burst: the whole pipeline)")
                        .isEqualTo(1);
                assertThat(before.max())
                        .as("requests in flight under b's writes before the pause")
                        .isEqualTo(1);
            } finally {
                writing.set(false);
                slow.forEach(f -> f.setReadLatencyMicros(0));
            }
            assertThat(writer.get(AWAIT.toMillis(), TimeUnit.MILLISECONDS)).isPositive();
            assertThat(a.array.awaitSyncIdle(Timing.seconds(120)))
                    .hasValueSatisfying(r -> assertThat(r.completed()).isTrue());
            a.array.close();
            b.array.close();
            ResyncWindowTest.assertLegsIdentical(c, size);
        }
    }

    /** The most reads and writes in flight at once on a's legs' data areas, over one phase of a test. */
    private static final class InFlight {
        private final AtomicInteger now = new AtomicInteger();
        private final AtomicInteger max = new AtomicInteger();

        void started() {
            max.accumulateAndGet(now.incrementAndGet(), Math::max);
        }

        void ended() {
            now.decrementAndGet();
        }

        int now() {
            return now.get();
        }

        int max() {
            return max.get();
        }
    }

    /** Counts every read and write at or beyond {@code dataStart} into the phase current when it starts. */
    private static final class CountingDataIo extends ForwardingBlockDevice {
        private final long dataStart;
        private final AtomicReference<InFlight> phase;

        CountingDataIo(BlockDevice inner, long dataStart, AtomicReference<InFlight> phase) {
            super(inner);
            this.dataStart = dataStart;
            this.phase = phase;
        }

        @Override
        public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
            if (offset < dataStart) return inner().readAsync(offset, dst);
            return counted(() -> inner().readAsync(offset, dst));
        }

        @Override
        public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
            if (offset < dataStart) return inner().writeAsync(offset, src, fua);
            return counted(() -> inner().writeAsync(offset, src, fua));
        }

        private CompletableFuture<Void> counted(Supplier<CompletableFuture<Void>> op) {
            InFlight p = phase.get();
            p.started();
            CompletableFuture<Void> f;
            try {
                f = op.get();
            } catch (RuntimeException e) {
                p.ended();
                throw e;
            }
            // ended before the caller's completion runs: a request is over for the pass only then
            return f.whenComplete((v, t) -> p.ended());
        }
    }

    /**
     * Random 4 KiB writes on {@code n} until told to stop, outside every window a peer resyncs
     * when picked (a writer held in a window for long starts nothing and so looks quiet, which
     * lets the pass hurry past it); returns how many.
     */
    private static long writeUntilStopped(ClusterFixture.Node n, AtomicBoolean writing) throws Exception {
        ByteBuffer buf = AlignedBuffers.allocate(BLOCK);
        long blocks = n.array.size() / BLOCK;
        long done = 0;
        while (writing.get()) {
            long offset = ThreadLocalRandom.current().nextLong(blocks) * BLOCK;
            if (n.cluster.areaResyncing(Direction.WRITE, offset / 512, (offset + BLOCK) / 512)) continue;
            n.array.write(offset, buf.clear());
            done++;
        }
        return done;
    }

    private static long resyncPosition(ClusterFixture.Node n) {
        String s = n.array.syncCompleted();
        if (!s.contains("/")) return 0;
        return Long.parseLong(s.substring(0, s.indexOf('/')).trim()) * 512;
    }

    private static void await(BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + AWAIT.toNanos();
        while (!condition.getAsBoolean()) {
            assertThat(System.nanoTime() - deadline).as("timed out: %s", what).isNegative();
            Thread.sleep(20);
        }
    }
}
