package org.clustermd.bench.broadcast;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.RawZooKeeper;
import org.clustermd.bench.Suite;
import org.clustermd.bench.storage.Percentiles;
import org.clustermd.cluster.message.ChannelBounds;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.Disposition;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.WriteStats;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.Raid1Exception;

/**
 * {@code benchmarks/run broadcast [--rounds 5] [--iterations 200] [--fsync yes|no] [--dir PATH]}:
 * P8, a METADATA_UPDATED broadcast's p99 (sent by one member, processed and acknowledged by all
 * the others; {@code docs/md-cluster-protocol.md §b.3}) with 4 and with 8 members, each member its
 * own ZooKeeper session in this JVM, against one raw ZooKeeper write's p50 (a setData) on the same
 * 1-server ensemble, alternating round by round. The figure is the median over rounds. Each round
 * also times {@link BroadcastFloor}, the cheapest acknowledged broadcast ZooKeeper allows with as
 * many sessions, as {@code floor_ratio} (its p99 ÷ the same write p50): how far below our figure
 * any design on this server and these cores could go.
 *
 * <p>Not thread-safe; run once.
 */
public final class BroadcastSuite implements Suite {
    private static final Duration TOKEN = Duration.ofSeconds(20);

    @Override
    public String name() {
        return "broadcast";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 5);
        int iterations = o.intValue("iterations", 200);
        boolean fsync = !o.string("fsync", "yes").equals("no");
        Path dir = tempDir(o.dir());
        List<Figure> out = new ArrayList<>();
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                dir.resolve("zk"),
                0,
                ZooKeeperSettings.builder().forceSync(fsync).build())) {
            String config = fsync ? "forceSync=yes, 1-server" : "forceSync=no, 1-server";
            out.add(p8(zk.connectString(), 4, "<=6", config, rounds, iterations));
            out.add(p8(zk.connectString(), 8, "<=8", config, rounds, iterations));
        } catch (DlmException | IOException | KeeperException e) {
            throw new BenchException("broadcast suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted");
        } finally {
            deleteQuietly(dir);
        }
        return out;
    }

    private Figure p8(String cs, int members, String goal, String config, int rounds, int iterations)
            throws DlmException, IOException, InterruptedException, KeeperException, Raid1Exception {
        List<ZkLockManager> managers = new ArrayList<>();
        List<MessageChannel> channels = new ArrayList<>();
        List<LockSpace> spaces = new ArrayList<>();
        ZooKeeper raw = RawZooKeeper.connect(cs);
        BroadcastFloor floor = null;
        try {
            BroadcastFloor.ensure(raw, "/bench-p8");
            floor = BroadcastFloor.open(cs, "/bench-p8-floor-" + members, members);
            for (int i = 0; i < members; i++) {
                ZkLockManager m = ZkLockManager.builder()
                        .connectString(cs)
                        .cluster("bench")
                        .nodeName("p8-" + members + "-" + i)
                        .build();
                managers.add(m);
                LockSpace ls =
                        m.join("p8-" + members, LockSpaceOptions.of(members).withRequestTimeout(TOKEN));
                spaces.add(ls);
                MessageChannel c = MessageChannel.open(
                        "p8-" + i, ls, ChannelBounds.fromTokenWait(TOKEN), e -> Disposition.PROCESSED, () -> {});
                c.startHandling();
                channels.add(c);
            }
            MessageChannel sender = channels.get(0);
            // warm up both paths (class loading, JIT, server caches)
            measureRaw(raw, iterations / 4);
            measureOurs(sender, iterations / 4);
            floor.measure(iterations / 4);
            long writesBefore = writes(spaces, false);
            long lostBefore = writes(spaces, true);
            long[] oursRounds = new long[rounds];
            long[] peerRounds = new long[rounds];
            long[] oursMedians = new long[rounds];
            long[] floorRounds = new long[rounds];
            long[] floorMedians = new long[rounds];
            for (int r = 0; r < rounds; r++) {
                peerRounds[r] = percentile(measureRaw(raw, iterations), 50);
                long[] samples = measureOurs(sender, iterations);
                oursRounds[r] = percentile(samples, 99);
                oursMedians[r] = percentile(samples, 50);
                long[] floorSamples = floor.measure(iterations);
                floorRounds[r] = percentile(floorSamples, 99);
                floorMedians[r] = percentile(floorSamples, 50);
                progress(
                        "P8 %d members round %d: broadcast p99 %.3f ms, floor p99 %.3f ms, ZooKeeper write p50 %.3f ms",
                        members, r + 1, oursRounds[r] / 1e6, floorRounds[r] / 1e6, peerRounds[r] / 1e6);
            }
            double perBroadcast = (writes(spaces, false) - writesBefore) / (double) (rounds * iterations);
            double lostPerBroadcast = (writes(spaces, true) - lostBefore) / (double) (rounds * iterations);
            double ours = median(oursRounds) / 1e6;
            double peer = median(peerRounds) / 1e6;
            double floorP99 = median(floorRounds) / 1e6;
            long received = channels.stream()
                    .skip(1)
                    .mapToLong(MessageChannel::messagesReceived)
                    .min()
                    .orElse(0);
            return new Figure(
                            "P8",
                            "METADATA_UPDATED sent and acked by all of " + members
                                    + " members, p99 / one ZooKeeper write p50",
                            ours,
                            peer,
                            goal,
                            "ms")
                    .with("config", config)
                    .with("members", members)
                    .with("rounds", rounds)
                    .with("iterations_per_round", iterations)
                    .with("ours_p99_ms_per_round", ms(oursRounds))
                    .with("ours_p50_ms_per_round", ms(oursMedians))
                    .with("peer_p50_ms_per_round", ms(peerRounds))
                    .with("floor_p99_ms_per_round", ms(floorRounds))
                    .with("floor_p50_ms_per_round", ms(floorMedians))
                    .with("floor_ratio", Math.round(floorP99 / peer * 100) / 100.0)
                    .with("least_received_by_a_member", received)
                    .with("transactions_per_broadcast", Math.round(perBroadcast * 10) / 10.0)
                    .with("lost_races_per_broadcast", Math.round(lostPerBroadcast * 10) / 10.0)
                    .with("peer", "ZooKeeper setData of one znode, same server");
        } finally {
            channels.forEach(MessageChannel::close);
            managers.forEach(ZkLockManager::close);
            if (floor != null) floor.close();
            raw.close();
        }
    }

    /** Every member's committed transactions (both kinds) or, with {@code lost}, its lost races, summed. */
    private static long writes(List<LockSpace> spaces, boolean lost) {
        long n = 0;
        for (LockSpace ls : spaces) {
            WriteStats w = ZkLockManager.writeStats(ls);
            n += lost ? w.conflicts() : w.plainWrites() + w.casWrites() - w.conflicts();
        }
        return n;
    }

    private static long[] measureOurs(MessageChannel sender, int n) throws Raid1Exception {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            sender.broadcast(new ClusterMessage.MetadataUpdated(0));
            t[i] = System.nanoTime() - s;
        }
        return t;
    }

    private static long[] measureRaw(ZooKeeper zk, int n) throws KeeperException, InterruptedException {
        long[] t = new long[n];
        byte[] payload = new byte[64];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            zk.setData("/bench-p8", payload, -1);
            t[i] = System.nanoTime() - s;
        }
        return t;
    }

    private static long percentile(long[] v, int p) {
        return Percentiles.percentile(v.clone(), v.length, p);
    }

    private static long median(long[] v) {
        return percentile(v, 50);
    }

    private static List<Double> ms(long[] nanos) {
        return Arrays.stream(nanos).mapToObj(n -> n / 1e6).toList();
    }

    private static void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }

    private static Path tempDir(Path base) throws BenchException {
        try {
            Files.createDirectories(base);
            return Files.createTempDirectory(base, "clustermd-broadcast-bench");
        } catch (IOException e) {
            throw new BenchException("cannot create a directory under " + base + ": " + e.getMessage(), e);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(java.util.Comparator.reverseOrder())
                    .forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort
        }
    }
}
