package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.UnaryOperator;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.ClusterOperations.Direction;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Resync coordination with RESYNCING windows (docs/md-cluster-protocol.md §e.3, §e.4): one node
 * resyncs a freshly created array (not assume-clean) while the others write; peers hold their
 * writes inside the resyncer's window, never outside it, learn a window from the bitmap lock's
 * LVB when they join during it, and drop it when the resyncer dies. Real ZooKeeper, real leg
 * files, nodes in this JVM.
 */
class ResyncWindowTest {
    /** 3 windows of 32 MiB and a bit. */
    private static final long LEG_BYTES = 100L << 20;

    private static final long WINDOW_BYTES = 32L << 20;

    @TempDir
    Path dir;

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    /** A node that resyncs slowly: it starts frozen, so the test says when the pass begins. */
    private static UnaryOperator<ArrayOptions.Builder> slowResync(long kibPerSecond) {
        return o -> o.startFrozen(true).syncSpeedMin(kibPerSecond).syncSpeedMax(kibPerSecond);
    }

    private static ClusterFixture.Node start(ClusterFixture c, String name, UnaryOperator<ArrayOptions.Builder> o)
            throws Exception {
        return c.startNoWait(name, c.zk.connectString(), ClusterFixture.SESSION, o, UnaryOperator.identity());
    }

    /**
     * The test: writers on every node into every chunk while one node resyncs, the
     * others writing just ahead of the resync point too; afterwards the legs are identical and
     * every acknowledged write reads back. With receivers that ignore RESYNCING a peer's write
     * lands between the resyncer's read of the first leg and its write of the second, and the
     * legs differ.
     */
    @Test
    void legsAreIdenticalWhenEveryNodeWritesEveryChunkWhileAPeerResyncs() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG_BYTES, false)) {
            ClusterFixture.Node a = start(c, "node-a", slowResync(24 * 1024));
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            ClusterFixture.Node d = start(c, "node-d", o -> o.startFrozen(true));
            List<ClusterFixture.Node> nodes = List.of(a, b, d);
            long size = a.array.size();
            AtomicBoolean writing = new AtomicBoolean(true);
            Map<Long, Long> acked = new ConcurrentHashMap<>();
            AtomicLong ids = new AtomicLong();
            List<Future<?>> writers = new ArrayList<>();
            int threadsPerNode = 3;
            int owners = nodes.size() * threadsPerNode;
            for (int n = 0; n < nodes.size(); n++) {
                for (int t = 0; t < threadsPerNode; t++) {
                    int owner = n * threadsPerNode + t;
                    ClusterFixture.Node node = nodes.get(n);
                    writers.add(pool.submit(() -> {
                        writeLoop(node, a, owner, owners, size, writing, acked, ids);
                        return null;
                    }));
                }
            }
            a.array.syncAction(SyncAction.IDLE); // unfrozen: a's resync starts now
            assertThat(a.array.awaitSyncIdle(Timing.seconds(240)))
                    .hasValueSatisfying(r -> assertThat(r.completed()).isTrue());
            writing.set(false);
            for (Future<?> w : writers) w.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(b.cluster.resyncingRemote())
                    .as("a's (0, 0) ended its window at b")
                    .isFalse();
            assertThat(acked).as("the writers wrote").hasSizeGreaterThan(100);
            for (ClusterFixture.Node n : nodes) assertReadsBack(n, acked);
            // b and d never resync: a did all of it (their own recovery_cp is still 0, so they are
            // stopped without unfreezing them)
            for (ClusterFixture.Node n : nodes) n.array.close();
            assertLegsIdentical(c, size);
        }
    }

    /**
     * Writes stamped 4 KiB blocks this writer owns ({@code block % owners == owner}) until told
     * to stop: every other one in a random chunk, the rest within 2 MiB past the resyncer's
     * position, where its requests are in flight.
     */
    private static void writeLoop(
            ClusterFixture.Node node,
            ClusterFixture.Node resyncer,
            int owner,
            int owners,
            long size,
            AtomicBoolean writing,
            Map<Long, Long> acked,
            AtomicLong ids)
            throws IOException {
        Random rnd = new Random(owner);
        ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
        long blocks = size / StampedBlock.SIZE;
        for (long i = 0; writing.get(); i++) {
            long block;
            if (i % 2 == 0) {
                block = rnd.nextLong(blocks);
            } else {
                long at = resyncPosition(resyncer) / StampedBlock.SIZE;
                block = Math.min(blocks - 1, at + rnd.nextInt(512));
            }
            block -= Math.floorMod(block - owner, owners);
            if (block < 0) continue;
            long offset = block * StampedBlock.SIZE;
            long id = ids.incrementAndGet();
            StampedBlock.stamp(buf.clear(), 0, offset, owner, id);
            node.array.write(offset, buf);
            acked.put(offset, id);
        }
    }

    /** The resyncer's completed position in bytes (0 when no pass runs). */
    private static long resyncPosition(ClusterFixture.Node n) {
        String s = n.array.syncCompleted();
        if (!s.contains("/")) return 0;
        return Long.parseLong(s.substring(0, s.indexOf('/')).trim()) * 512;
    }

    private static void assertReadsBack(ClusterFixture.Node n, Map<Long, Long> acked) throws IOException {
        ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
        for (Map.Entry<Long, Long> e : acked.entrySet()) {
            n.array.read(e.getKey(), buf.clear());
            StampedBlock.Stamp s = StampedBlock.read(buf, 0, e.getKey());
            assertThat(s).as("block at %d on %s", e.getKey(), n.name).isNotNull();
            assertThat(s.writeId())
                    .as("block at %d on %s: the last acknowledged write", e.getKey(), n.name)
                    .isEqualTo(e.getValue());
        }
    }

    /** Compares the two legs' data areas byte for byte (the arrays are closed). */
    static void assertLegsIdentical(ClusterFixture c, long size) throws IOException {
        long base = c.created.dataOffset() * 512;
        int step = 1 << 20;
        byte[] x = new byte[step];
        byte[] y = new byte[step];
        try (RandomAccessFile l0 = new RandomAccessFile(c.legs.get(0).toFile(), "r");
                RandomAccessFile l1 = new RandomAccessFile(c.legs.get(1).toFile(), "r")) {
            for (long at = 0; at < size; at += step) {
                int n = (int) Math.min(step, size - at);
                l0.seek(base + at);
                l0.readFully(x, 0, n);
                l1.seek(base + at);
                l1.readFully(y, 0, n);
                int diff = java.util.Arrays.mismatch(x, 0, n, y, 0, n);
                assertThat(diff)
                        .as("the legs differ at array byte %d", at + diff)
                        .isEqualTo(-1);
            }
        }
    }

    /** Waits until {@code n} holds a peer's window over {@code [lo, hi)} bytes. */
    private static void awaitWindow(ClusterFixture.Node n, long lo, long hi) throws InterruptedException {
        long deadline = System.nanoTime() + Timing.seconds(60).toNanos();
        while (!n.cluster.areaResyncing(Direction.WRITE, lo / 512, hi / 512)) {
            assertThat(System.nanoTime() - deadline)
                    .as("%s never saw the window over [%d, %d)", n.name, lo, hi)
                    .isNegative();
            Thread.sleep(20);
        }
    }

    private CompletableFuture<Void> writeAsync(ClusterFixture.Node n, long offset, long id) {
        return CompletableFuture.runAsync(
                () -> {
                    try {
                        n.writeBlock(offset, id);
                    } catch (IOException e) {
                        throw new java.io.UncheckedIOException(e);
                    }
                },
                pool);
    }

    /**
     * A node that joins while a peer resyncs finds the window in the peer's bitmap lock (it was
     * announced before it joined, so no RESYNCING tells it): its writes there wait; its writes
     * outside the window complete while the window is held (the resyncer paused at sync_max).
     */
    @Test
    void aJoinerSeesTheWindowFromTheLvbAndWritesOutsideItNeverWait() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG_BYTES, false)) {
            ClusterFixture.Node a = start(c, "node-a", slowResync(16 * 1024));
            a.array.syncMax(8L << 11); // 8 MiB: the pass stops there, its first window held
            a.array.syncAction(SyncAction.IDLE);
            awaitPosition(a, 8L << 20);
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            assertThat(b.cluster.resyncingRemote())
                    .as("b read a's window at load")
                    .isTrue();
            CompletableFuture<Void> inside = writeAsync(b, 4L << 20, 1);
            b.writeBlock(WINDOW_BYTES + (8L << 20), 2); // outside: completes while the window is held
            b.writeBlock(WINDOW_BYTES + (40L << 20), 3);
            Thread.sleep(500);
            assertThat(inside)
                    .as("a write into a's window waits while a holds it")
                    .isNotDone();
            a.array.syncMax(Long.MAX_VALUE);
            inside.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(a.array.awaitSyncIdle(Timing.seconds(120)))
                    .hasValueSatisfying(r -> assertThat(r.completed()).isTrue());
            long size = a.array.size();
            a.array.close();
            b.array.close();
            assertLegsIdentical(c, size);
        }
    }

    /**
     * A resyncer that stops its array mid-pass leaves gracefully, which is no death: no
     * recover_slot clears its window, only the (0, 0) it sends while it closes. Every peer has
     * dropped the window by the time the resyncer's close returns, and a write that waited in
     * it goes on (docs/lessons.md §16).
     */
    @Test
    void aResyncerThatStopsMidPassHasClearedItsWindowOnEveryPeerWhenItsCloseReturns() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG_BYTES, false)) {
            ClusterFixture.Node a = start(c, "node-a", slowResync(16 * 1024));
            a.array.syncMax(8L << 11); // 8 MiB: the pass stops there, its first window held
            a.array.syncAction(SyncAction.IDLE);
            awaitPosition(a, 8L << 20);
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            ClusterFixture.Node d = start(c, "node-d", o -> o.startFrozen(true));
            for (ClusterFixture.Node n : List.of(b, d))
                assertThat(n.cluster.resyncingRemote())
                        .as("%s holds a's window", n.name)
                        .isTrue();
            CompletableFuture<Void> inside = writeAsync(b, 4L << 20, 1);
            Thread.sleep(300);
            assertThat(inside).as("a write into a's window waits").isNotDone();

            a.array.close();
            for (ClusterFixture.Node n : List.of(b, d)) {
                assertThat(n.cluster.resyncingRemote())
                        .as("%s dropped a's window before a's close returned", n.name)
                        .isFalse();
                assertThat(n.cluster.areaResyncing(Direction.WRITE, 0, 16L << 11))
                        .as(n.name)
                        .isFalse();
            }
            inside.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private static void awaitPosition(ClusterFixture.Node n, long bytes) throws InterruptedException {
        long deadline = System.nanoTime() + Timing.seconds(60).toNanos();
        while (resyncPosition(n) < bytes) {
            assertThat(System.nanoTime() - deadline)
                    .as("%s's resync never reached %d", n.name, bytes)
                    .isNegative();
            Thread.sleep(20);
        }
    }

    /**
     * The resyncer dies with its window held: the survivor's recovery clears the window (the
     * writer waiting there goes on), the survivor then resyncs the array itself, and the legs
     * end identical.
     */
    @Test
    void whenTheResyncOwnerDiesRecoveryClearsItsWindowAndTheSurvivorResyncs() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG_BYTES, false)) {
            ClusterFixture.Node a = start(c, "node-a", slowResync(16 * 1024));
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            a.array.syncMax(8L << 11);
            a.array.syncAction(SyncAction.IDLE);
            awaitWindow(b, 0, 4096);
            a.writeBlock(60L << 20, 1); // a's own dirty bit: the survivor resyncs it
            CompletableFuture<Void> inside = writeAsync(b, 4L << 20, 2);
            Thread.sleep(500);
            assertThat(inside).as("b's write waits in a's window").isNotDone();
            c.expire(a);
            inside.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(b.cluster.resyncingRemote()).isFalse();
            b.array.syncAction(SyncAction.IDLE); // b's own pass: the whole array, a's bits included
            long deadline = System.nanoTime() + Timing.seconds(180).toNanos();
            while (!b.array.syncStatus().equals("idle")) {
                assertThat(System.nanoTime() - deadline)
                        .as("b never finished the resync: %s", b.array.syncStatus())
                        .isNegative();
                Thread.sleep(100);
            }
            ByteBuffer buf = AlignedBuffers.allocate(4096);
            b.array.read(4L << 20, buf);
            assertThat(StampedBlock.read(buf, 0, 4L << 20).writeId()).isEqualTo(2);
            long size = b.array.size();
            b.array.close();
            a.array.close();
            assertLegsIdentical(c, size);
        }
    }
    /**
     * A resyncer dies with its window in its bitmap lock's LVB, the survivor recovers its slot,
     * the node comes back into the same slot and another node joins: the joiner sees no window
     * (the recovery and the rejoin cleared it) and writes there at once.
     */
    @Test
    void aWindowLeftByADeadResyncerIsNotSeenByLaterJoiners() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG_BYTES, false)) {
            ClusterFixture.Node a = start(c, "node-a", slowResync(16 * 1024));
            ClusterFixture.Node b = start(c, "node-b", o -> o.startFrozen(true));
            a.array.syncMax(8L << 11);
            a.array.syncAction(SyncAction.IDLE);
            awaitWindow(b, 0, 4096);
            int slotA = a.slot();
            c.expire(a);
            long deadline = System.nanoTime() + Timing.seconds(60).toNanos();
            while (b.cluster.resyncingRemote() || !b.cluster.pendingRecoveries().isEmpty()) {
                assertThat(System.nanoTime() - deadline)
                        .as("b never recovered a's slot")
                        .isNegative();
                Thread.sleep(20);
            }
            a.array.close();
            ClusterFixture.Node a2 = start(c, "node-a", o -> o.startFrozen(true));
            assertThat(a2.slot()).as("a got its slot back").isEqualTo(slotA);
            ClusterFixture.Node d = start(c, "node-d", o -> o.startFrozen(true));
            assertThat(d.cluster.resyncingRemote())
                    .as("no window from a's earlier life")
                    .isFalse();
            writeAsync(d, 4L << 20, 1).get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            writeAsync(b, (4L << 20) + 4096, 2).get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
