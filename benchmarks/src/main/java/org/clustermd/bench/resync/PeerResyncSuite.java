package org.clustermd.bench.resync;

import static org.clustermd.bench.storage.Percentiles.list;
import static org.clustermd.bench.storage.Percentiles.median;
import static org.clustermd.bench.storage.Rounds.longs;
import static org.clustermd.bench.storage.Rounds.with;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.Suite;
import org.clustermd.bench.storage.LatencySamples;
import org.clustermd.bench.storage.LegFiles;
import org.clustermd.bench.storage.Rounds;
import org.clustermd.bench.storage.WriteLoad;
import org.clustermd.cluster.ClusterCoordinator;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.ClusterOperations.Direction;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.resync.SyncThrottle;

/**
 * {@code benchmarks/run resync-peer [--rounds 3] [--seconds 5] [--dir /var/tmp] [--size 1G]
 * [--sync-speed-max KIB]}: P13 of docs/design.md §7, what a peer's resync costs this node's
 * writes outside the resync window. Two nodes in this JVM (each its own ZooKeeper session on an
 * embedded server, each its own array over the same two leg files): node A runs a full resync of
 * an array created without {@code --assume-clean}; node B issues one blocking 4 KiB random write
 * at a time, each at an offset outside every window it holds for A
 * ({@code areaResyncing(WRITE)} false when it is picked). The figure: B's p99 while A's pass
 * runs ÷ B's p99 while A's pass is paused with sync_max (the same array, the same disk, the
 * window still held), in alternating 1-second slices as P12 does. B writes all along, between
 * slices too, as a peer that is busy the whole time. md's receiver freezes the whole array at
 * every window move, and md's resync never slows for another host's writes; here only writes into
 * the new window wait, and A's pass keeps to sync_speed_min while B is busy
 * (docs/md-cluster-protocol.md §e.9; how far it got is {@code resync_reached_bytes_per_round}).
 *
 * <p>Not thread-safe; run once.
 */
public final class PeerResyncSuite implements Suite {
    private static final int BLOCK = 4096;
    private static final Duration JOIN_WAIT = Duration.ofSeconds(20);

    @Override
    public String name() {
        return "resync-peer";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 3);
        int seconds = o.intValue("seconds", 5);
        long speedMax = Long.parseLong(o.string("sync-speed-max", Long.toString(SyncThrottle.DEFAULT_SPEED_MAX)));
        try (LegFiles legs = LegFiles.create(o, "resync-peer", 2)) {
            Path zkDir = Files.createTempDirectory(legs.dir(), "zk");
            try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                    zkDir, 0, ZooKeeperSettings.builder().build())) {
                progress(
                        "resync-peer: %d rounds, %d s per side, array %d MiB, sync_speed_max %d KiB/s",
                        rounds, seconds, legs.arrayBytes() >> 20, speedMax);
                return List.of(p13(legs, zk.connectString(), rounds, seconds, speedMax));
            } finally {
                deleteQuietly(zkDir);
            }
        } catch (IOException e) {
            throw new BenchException("resync-peer suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted", e);
        }
    }

    private Figure p13(LegFiles legs, String zk, int rounds, int seconds, long speedMax)
            throws IOException, InterruptedException {
        double[] idleP99 = new double[rounds];
        double[] busyP99 = new double[rounds];
        double[] idleP50 = new double[rounds];
        double[] busyP50 = new double[rounds];
        long[] idleN = new long[rounds];
        long[] busyN = new long[rounds];
        long[] busyMax = new long[rounds];
        long[] idleMax = new long[rounds];
        long[] windows = new long[rounds];
        long[] reached = new long[rounds];
        for (int r = 0; r < rounds; r++) {
            legs.createArray(BitmapMode.CLUSTERED, false);
            ClusterCoordinator aCluster = coordinator(zk, "a");
            ClusterCoordinator bCluster = coordinator(zk, "b");
            try (Raid1Array a = node(legs, aCluster, "a", speedMax);
                    Raid1Array b = node(legs, bCluster, "b", speedMax)) {
                WriteLoad.randomSync(b, BLOCK, 1, null, () -> true); // warm-up: B's bitmap bits set
                LatencySamples idle = new LatencySamples();
                LatencySamples busy = new LatencySamples();
                long sentBefore = aCluster.messagesSent();
                a.syncMax(0); // the pass starts paused at sector 0
                a.syncAction(SyncAction.RESYNC);
                ResyncSuite.awaitStatus(a, "resync");
                // B never stops writing, between slices and while A pauses included, as a peer that
                // is busy all along; only the slices' writes are counted
                BWriter writer = new BWriter(b, bCluster);
                writer.start();
                try {
                    for (int slice = 0; slice < seconds && a.syncStatus().equals("resync"); slice++) {
                        boolean idleFirst = (r + slice) % 2 == 0;
                        if (idleFirst) writer.measure(idle, () -> true);
                        a.syncMax(Long.MAX_VALUE);
                        writer.measure(busy, () -> a.syncStatus().equals("resync"));
                        pauseAtCompleted(a);
                        if (!idleFirst) writer.measure(idle, () -> true);
                    }
                } finally {
                    writer.finish();
                }
                if (busy.count() == 0) throw new IOException("P13: the resync ended before any write of B ran");
                reached[r] = reachedBytes(a);
                idleP99[r] = idle.percentileMicros(99);
                busyP99[r] = busy.percentileMicros(99);
                idleP50[r] = idle.percentileMicros(50);
                busyP50[r] = busy.percentileMicros(50);
                idleN[r] = idle.count();
                busyN[r] = busy.count();
                busyMax[r] = (long) busy.percentileMicros(100);
                idleMax[r] = (long) idle.percentileMicros(100);
                windows[r] = aCluster.messagesSent() - sentBefore;
                progress(
                        "P13 round %d: B's writes outside the window, A paused p99 %.0f us (p50 %.0f, %d writes),"
                                + " A resyncing p99 %.0f us (p50 %.0f, max %d, %d writes); A sent %d messages,"
                                + " its pass reached %d MiB",
                        r + 1,
                        idleP99[r],
                        idleP50[r],
                        idleN[r],
                        busyP99[r],
                        busyP50[r],
                        busyMax[r],
                        busyN[r],
                        windows[r],
                        reached[r] >> 20);
            }
        }
        return Rounds.paired(
                        new Figure(
                                "P13",
                                "a peer's 4 KiB write p99 outside the resync window while another node resyncs"
                                        + " / the same with the resync paused (QD1 blocking writes)",
                                median(busyP99),
                                median(idleP99),
                                "<=1.2",
                                "us"),
                        busyP99,
                        idleP99)
                .with("busy_p50_us_per_round", list(busyP50))
                .with("idle_p50_us_per_round", list(idleP50))
                .with("busy_max_us_per_round", longs(busyMax))
                .with("idle_max_us_per_round", longs(idleMax))
                .with("busy_writes_per_round", longs(busyN))
                .with("idle_writes_per_round", longs(idleN))
                .with("messages_sent_by_the_resyncer_per_round", longs(windows))
                .with("resync_reached_bytes_per_round", longs(reached))
                .with(
                        "config",
                        with(
                                legs.config(),
                                "block_bytes",
                                BLOCK,
                                "qd",
                                1,
                                "nodes",
                                "2 in one JVM, one embedded ZooKeeper server",
                                "seconds_per_side_per_round",
                                seconds,
                                "slice_seconds",
                                1,
                                "sync_speed_min_kib",
                                SyncThrottle.DEFAULT_SPEED_MIN,
                                "sync_speed_max_kib",
                                speedMax,
                                "idle",
                                "same array, A's pass paused with sync_max between busy slices"));
    }

    /** How far A's pass got: the array's size once it ended (the cost side of P13: what a peer's writes slow). */
    private static long reachedBytes(Raid1Array a) {
        String s = a.syncCompleted();
        if (!s.contains("/")) return a.size();
        return Long.parseLong(s.substring(0, s.indexOf('/')).trim()) * 512;
    }

    /** A node's coordinator: its own ZooKeeper session, connected when its array joins. */
    private static ClusterCoordinator coordinator(String zk, String name) {
        return ClusterCoordinator.builder()
                .connectString(zk)
                .nodeName("p13-" + name)
                .requestTimeout(JOIN_WAIT)
                .build();
    }

    /** A node's array over the legs, frozen until told. */
    private static Raid1Array node(LegFiles legs, ClusterCoordinator c, String name, long speedMax) throws IOException {
        return Raid1Array.assemble(
                legs.openLegs(),
                ArrayOptions.builder()
                        .name("p13-" + name)
                        .cluster(c)
                        .startFrozen(true)
                        .syncSpeedMax(speedMax)
                        .build());
    }

    /**
     * Pauses A's pass with sync_max at what it completed (a pass under a busy peer issues one
     * request at a time and slowly, so a margin past it, as {@link ResyncSuite#pause} takes, would
     * take seconds to reach), then waits until it made no progress for 50 ms.
     */
    private static void pauseAtCompleted(Raid1Array a) throws IOException, InterruptedException {
        for (; ; ) {
            if (!a.syncStatus().equals("resync")) return;
            try {
                a.syncMax(ResyncSuite.syncDone(a));
                break;
            } catch (Raid1Exception e) {
                if (e.code() != Raid1Exception.Code.BUSY) throw e; // the pass moved on meanwhile: retry
            }
        }
        long last = -1;
        for (int still = 0; still < 5 && a.syncStatus().equals("resync"); Thread.sleep(10)) {
            long done = ResyncSuite.syncDone(a);
            still = done == last ? still + 1 : 0;
            last = done;
        }
    }

    /**
     * B's load, on its own thread from the first slice to the last: blocking random 4 KiB writes,
     * each at an offset that no window held here covers when it is picked (a window that moves
     * onto it meanwhile makes it wait, which is counted). A write is counted in the samples that
     * were being measured when it started, if they still are when it ends.
     */
    private static final class BWriter {
        private final Raid1Array b;
        private final ClusterCoordinator cluster;
        private final AtomicReference<LatencySamples> into = new AtomicReference<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicReference<Exception> failed = new AtomicReference<>();
        private final Thread thread;

        BWriter(Raid1Array b, ClusterCoordinator cluster) {
            this.b = b;
            this.cluster = cluster;
            this.thread = new Thread(this::run, "p13-b-writer");
        }

        void start() {
            thread.start();
        }

        /** Counts B's writes into {@code samples} for one second, or until {@code keepGoing} turns false. */
        void measure(LatencySamples samples, BooleanSupplier keepGoing) throws IOException, InterruptedException {
            into.set(samples);
            long deadline = System.nanoTime() + 1_000_000_000L;
            while (System.nanoTime() < deadline && keepGoing.getAsBoolean() && failed.get() == null) Thread.sleep(5);
            into.set(null);
            if (failed.get() != null) throw new IOException("B's writes failed: " + failed.get(), failed.get());
        }

        /** Stops the thread; the samples it wrote are visible to the caller after it. */
        void finish() throws InterruptedException {
            stop.set(true);
            thread.join();
        }

        private void run() {
            ByteBuffer buf = AlignedBuffers.allocate(BLOCK);
            long blocks = b.size() / BLOCK;
            ThreadLocalRandom rnd = ThreadLocalRandom.current();
            try {
                while (!stop.get()) {
                    long sector = rnd.nextLong(blocks) * (BLOCK / 512);
                    if (cluster.areaResyncing(Direction.WRITE, sector, sector + BLOCK / 512)) continue;
                    LatencySamples samples = into.get();
                    long t0 = System.nanoTime();
                    b.write(sector * 512, buf.clear());
                    long t = System.nanoTime() - t0;
                    if (samples != null && into.get() == samples) samples.add(t);
                }
            } catch (IOException | RuntimeException e) {
                failed.set(e);
            }
        }
    }

    private static void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort
        }
    }
}
