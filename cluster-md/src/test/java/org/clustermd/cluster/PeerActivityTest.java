package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.UnaryOperator;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.ClusterOperations.Direction;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.io.AlignedBuffers;
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
