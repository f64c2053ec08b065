package org.clustermd.bench.lock;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.RawZooKeeper;
import org.clustermd.bench.Suite;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.EmbeddedZooKeeperEnsemble;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.ZkLockManager;

/**
 * {@code benchmarks/run lock [--rounds 5] [--iterations 1000] [--warmup 3000] [--seconds 3]
 * [--fsync yes|no|both] [--session-ms 6000] [--dir PATH]}: P6 on a 1-server and a 3-server
 * ensemble, P7 with 1 and 3 contenders on the 1-server one. Ours and the peer run against the same
 * server(s), alternating round by round; the figure is the median over rounds. P6 first runs
 * {@code --warmup} lock+unlock pairs of each side, so that both are timed compiled: a JVM runs a
 * method interpreted, then compiled once, then optimized after thousands of calls, and a shorter
 * warm-up times ours (more code per operation) while the JIT is still at work on it. The servers keep their data in
 * {@code --dir} (a real disk by default) and, unless told otherwise, fsync their log as
 * production does. L1: the time from a one-way cut (only what the holder sends is lost, while it
 * still hears the lockspace) to the holder's SUSPENDED, as a part of the negotiated session
 * timeout (tickTime 2000 ms, ZooKeeper's default).
 *
 * <p>Not thread-safe; run once.
 */
public final class LockSuite implements Suite {
    @Override
    public String name() {
        return "lock";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 5);
        int iterations = o.intValue("iterations", 1000);
        int warmup = o.intValue("warmup", 3000);
        int seconds = o.intValue("seconds", 3);
        String fsync = o.string("fsync", "yes");
        List<Figure> figures = new ArrayList<>();
        for (boolean sync : fsync.equals("both") ? List.of(true, false) : List.of(!fsync.equals("no"))) {
            figures.addAll(runWith(o.dir(), sync, rounds, iterations, warmup, seconds));
        }
        figures.add(l1(o.dir(), rounds, o.intValue("session-ms", 6000)));
        return figures;
    }

    /** L1: a one-way cut of the EX holder to its SUSPENDED, in session timeouts; median of rounds. */
    private Figure l1(Path base, int rounds, int sessionMs) throws BenchException {
        Path dir = tempDir(base);
        ZooKeeperSettings settings =
                ZooKeeperSettings.builder().forceSync(false).build();
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir.resolve("lease"), 0, settings)) {
            double[] suspended = new double[rounds];
            double[] expirySeen = new double[rounds];
            int negotiated = 0;
            for (int i = 0; i < rounds; i++) {
                try (OneWayLink link = new OneWayLink(zk.clientPort())) {
                    OneWayCut cut = oneWayCut(link, zk.connectString(), sessionMs, i);
                    suspended[i] = cut.suspended();
                    expirySeen[i] = cut.expirySeen();
                    negotiated = cut.sessionMs();
                }
                progress(
                        "L1 round %d: SUSPENDED at %.3f, expiry seen by another member at %.3f session timeouts",
                        i + 1, suspended[i], expirySeen[i]);
            }
            double ours = median(suspended);
            return new Figure(
                            "L1",
                            "time from a one-way cut (client->server dropped) to SUSPENDED / session timeout",
                            ours,
                            Double.NaN,
                            ours,
                            "<=0.667",
                            "session timeouts")
                    .with("session_ms", negotiated)
                    .with("tick_ms", settings.tickTimeMs())
                    .with("rounds", rounds)
                    .with("ours_per_round", Arrays.stream(suspended).boxed().toList())
                    .with(
                            "expiry_seen_per_round",
                            Arrays.stream(expirySeen).boxed().toList())
                    .with(
                            "load",
                            "another member locks and unlocks without pause, so the holder keeps hearing"
                                    + " the lockspace (ZooKeeper's client alone never notices such a cut)");
        } catch (DlmException | IOException e) {
            throw new BenchException("lock suite, L1: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted");
        } finally {
            deleteQuietly(dir);
        }
    }

    /** One L1 round, in session timeouts from the cut. */
    private record OneWayCut(double suspended, double expirySeen, int sessionMs) {}

    private OneWayCut oneWayCut(OneWayLink link, String direct, int sessionMs, int round)
            throws DlmException, InterruptedException {
        AtomicLong suspendedAt = new AtomicLong();
        AtomicLong expirySeenAt = new AtomicLong();
        AtomicBoolean armed = new AtomicBoolean();
        CountDownLatch suspended = new CountDownLatch(1);
        CountDownLatch expired = new CountDownLatch(1);
        AtomicBoolean loading = new AtomicBoolean(true);
        Duration session = Duration.ofMillis(sessionMs);
        String name = "l1-" + round;
        try (ZkLockManager victim = ZkLockManager.builder()
                        .connectString(link.connectString())
                        .cluster("bench")
                        .nodeName("l1-holder-" + round)
                        .sessionTimeout(session)
                        .ensembleTracker(false)
                        .build();
                ZkLockManager other = ZkLockManager.builder()
                        .connectString(direct)
                        .cluster("bench")
                        .nodeName("l1-other-" + round)
                        .sessionTimeout(session)
                        .build()) {
            LockSpace holder = victim.join(name, LockSpaceOptions.of(4).withListener(new LockSpaceListener() {
                @Override
                public void stateChanged(LockSpaceState s) {
                    if (s == LockSpaceState.SUSPENDED
                            && armed.get()
                            && suspendedAt.compareAndSet(0, System.nanoTime())) {
                        suspended.countDown();
                    }
                }
            }));
            LockSpace watcher = other.join(name, LockSpaceOptions.of(4).withListener(new LockSpaceListener() {
                @Override
                public void memberLost(NodeSlot slot) {
                    if (expirySeenAt.compareAndSet(0, System.nanoTime())) {
                        expired.countDown();
                    }
                }
            }));
            holder.resource("token").convert(LockMode.EX);
            LockResource load = watcher.resource("load");
            Thread loader = new Thread(
                    () -> {
                        while (loading.get()) {
                            try {
                                load.convert(LockMode.EX);
                                load.unlock();
                            } catch (DlmException e) {
                                return;
                            }
                        }
                    },
                    "bench-l1-load");
            loader.setDaemon(true);
            loader.start();
            try {
                Thread.sleep(sessionMs); // renewals in their steady state
                int negotiated =
                        victim.curator().getZookeeperClient().getZooKeeper().getSessionTimeout();
                armed.set(true);
                long cutAt = System.nanoTime();
                link.cutClientToServer();
                long bound = 4L * sessionMs;
                if (!suspended.await(bound, TimeUnit.MILLISECONDS) || !expired.await(bound, TimeUnit.MILLISECONDS)) {
                    throw new DlmException(
                            DlmException.Code.TIMEOUT,
                            "L1: no SUSPENDED or no expiry within " + bound + " ms of the cut");
                }
                double t = negotiated * 1e6;
                return new OneWayCut((suspendedAt.get() - cutAt) / t, (expirySeenAt.get() - cutAt) / t, negotiated);
            } catch (Exception e) {
                if (e instanceof DlmException d) {
                    throw d;
                }
                if (e instanceof InterruptedException ie) {
                    throw ie;
                }
                throw new DlmException(DlmException.Code.UNAVAILABLE, "L1: " + e, e);
            } finally {
                loading.set(false);
                link.restore();
                loader.join(10_000);
            }
        }
    }

    private List<Figure> runWith(Path base, boolean fsync, int rounds, int iterations, int warmup, int seconds)
            throws BenchException {
        List<Figure> out = new ArrayList<>();
        ZooKeeperSettings settings =
                ZooKeeperSettings.builder().forceSync(fsync).build();
        String config = fsync ? "forceSync=yes" : "forceSync=no";
        Path dir = tempDir(base);
        try {
            try (EmbeddedZooKeeper one = EmbeddedZooKeeper.start(dir.resolve("one"), 0, settings)) {
                out.add(p6("1-server", one.connectString(), config, rounds, iterations, warmup));
                out.add(p7(1, one.connectString(), config, rounds, seconds, ">=1.1"));
                out.add(p7(3, one.connectString(), config, rounds, seconds, ">=1.2"));
            }
            try (EmbeddedZooKeeperEnsemble three = new EmbeddedZooKeeperEnsemble(dir.resolve("three"), 3, settings)) {
                three.start();
                // both sides talk to the same server, a follower, as most clients of an ensemble do
                int follower = three.leaderIndex() == 0 ? 1 : 0;
                out.add(p6("3-server", three.connectString(follower), config, rounds, iterations, warmup));
            }
        } catch (DlmException | IOException | KeeperException e) {
            throw new BenchException("lock suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted");
        } finally {
            deleteQuietly(dir);
        }
        return out;
    }

    /** P6: uncontended EX lock+unlock p50 against raw create+delete p50. */
    private Figure p6(String ensemble, String cs, String config, int rounds, int iterations, int warmup)
            throws DlmException, IOException, InterruptedException, KeeperException {
        ZooKeeper raw = RawZooKeeper.connect(cs);
        ZooKeeper watching = RawZooKeeper.connect(cs);
        try (ZkLockManager dlm = ZkLockManager.builder()
                .connectString(cs)
                .cluster("bench")
                .nodeName("p6")
                .build()) {
            ensure(raw, "/bench-raw");
            ensure(raw, "/bench-shape");
            ensure(raw, "/bench-shape/resource");
            ensure(raw, "/bench-shape/version");
            watching.addWatch("/bench-shape/resource", e -> {}, AddWatchMode.PERSISTENT_RECURSIVE);
            SameShape shape = new SameShape(watching);
            LockSpace ls = dlm.join("p6", LockSpaceOptions.of(4));
            LockResource r = ls.resource("lock");
            long[] oursRounds = new long[rounds];
            long[] peerRounds = new long[rounds];
            long[] shapeRounds = new long[rounds];
            // warm up every path (class loading, JIT, server caches), alternating as the rounds do
            for (int w = 0; w < 3; w++) {
                measureRaw(raw, warmup / 3);
                shape.measure(warmup / 3);
                measureOurs(r, warmup / 3);
            }
            for (int i = 0; i < rounds; i++) {
                peerRounds[i] = median(measureRaw(raw, iterations));
                shapeRounds[i] = median(shape.measure(iterations));
                oursRounds[i] = median(measureOurs(r, iterations));
                progress(
                        "P6 %s round %d: ours %.3f ms, raw %.3f ms, same transactions raw %.3f ms",
                        ensemble, i + 1, oursRounds[i] / 1e6, peerRounds[i] / 1e6, shapeRounds[i] / 1e6);
            }
            double ours = median(oursRounds) / 1e6;
            double peer = median(peerRounds) / 1e6;
            return new Figure(
                            "P6",
                            "uncontended EX lock+unlock p50 / raw ZooKeeper create+delete p50, " + ensemble,
                            ours,
                            peer,
                            "<=1.2",
                            "ms")
                    .with("config", config)
                    .with("rounds", rounds)
                    .with("iterations_per_round", iterations)
                    .with("warmup_per_side", warmup)
                    .with("ours_p50_ms_per_round", ms(oursRounds))
                    .with("peer_p50_ms_per_round", ms(peerRounds))
                    .with("peer", "ZooKeeper create(EPHEMERAL_SEQUENTIAL)+delete, same server")
                    .with("same_transactions_p50_ms_per_round", ms(shapeRounds))
                    .with("same_transactions_ratio", median(shapeRounds) / 1e6 / peer)
                    .with(
                            "same_transactions",
                            "ours' two transactions issued raw and synchronously by a session watching their"
                                    + " subtree: multi(create sequential, setData version) then delete");
        } finally {
            watching.close();
            raw.close();
        }
    }

    /**
     * The transactions an uncontended lock+unlock writes, without the lock manager: a
     * compare-and-set multi that creates a sequential znode and sets the version znode at the
     * version it had, then a delete, by a session with a persistent recursive watch on the
     * subtree, as every member has. Synchronous calls, events ignored: what the design costs on
     * the server and the wire before any of our code runs.
     */
    private static final class SameShape {
        private final ZooKeeper zk;
        private int version;

        SameShape(ZooKeeper zk) throws KeeperException, InterruptedException {
            this.zk = zk;
            this.version = zk.exists("/bench-shape/version", false).getVersion();
        }

        long[] measure(int n) throws KeeperException, InterruptedException {
            long[] t = new long[n];
            for (int i = 0; i < n; i++) {
                long s = System.nanoTime();
                List<OpResult> res = zk.multi(List.of(
                        org.apache.zookeeper.Op.create(
                                "/bench-shape/resource/l-",
                                new byte[0],
                                ZooDefs.Ids.OPEN_ACL_UNSAFE,
                                CreateMode.PERSISTENT_SEQUENTIAL),
                        org.apache.zookeeper.Op.setData("/bench-shape/version", new byte[0], version)));
                version++;
                zk.delete(((OpResult.CreateResult) res.get(0)).getPath(), -1);
                t[i] = System.nanoTime() - s;
            }
            return t;
        }
    }

    private static long[] measureRaw(ZooKeeper zk, int n) throws KeeperException, InterruptedException {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            String p = zk.create(
                    "/bench-raw/l-", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
            zk.delete(p, -1);
            t[i] = System.nanoTime() - s;
        }
        return t;
    }

    private static long[] measureOurs(LockResource r, int n) throws DlmException {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) {
            long s = System.nanoTime();
            r.convert(LockMode.EX);
            r.unlock();
            t[i] = System.nanoTime() - s;
        }
        return t;
    }

    /** P7: lock+unlock throughput with {@code contenders} sessions, against InterProcessMutex. */
    private Figure p7(int contenders, String cs, String config, int rounds, int seconds, String goal)
            throws DlmException, InterruptedException {
        List<CuratorFramework> curators = new ArrayList<>();
        List<ZkLockManager> managers = new ArrayList<>();
        try {
            List<Op> curatorOps = new ArrayList<>();
            List<Op> ourOps = new ArrayList<>();
            for (int i = 0; i < contenders; i++) {
                CuratorFramework c = CuratorFrameworkFactory.newClient(cs, new RetryNTimes(3, 100));
                c.start();
                if (!c.blockUntilConnected(20, TimeUnit.SECONDS)) {
                    throw new DlmException(DlmException.Code.UNAVAILABLE, "Curator could not connect to " + cs);
                }
                curators.add(c);
                InterProcessMutex mutex = new InterProcessMutex(c, "/bench-curator/p7-" + contenders);
                curatorOps.add(() -> {
                    mutex.acquire();
                    mutex.release();
                });
                ZkLockManager m = ZkLockManager.builder()
                        .connectString(cs)
                        .cluster("bench")
                        .nodeName("p7-" + i)
                        .build();
                managers.add(m);
                LockResource r =
                        m.join("p7-" + contenders, LockSpaceOptions.of(8)).resource("mutex");
                ourOps.add(() -> {
                    r.convert(LockMode.EX);
                    r.unlock();
                });
            }
            run(curatorOps, 1);
            run(ourOps, 1);
            double[] oursRounds = new double[rounds];
            double[] peerRounds = new double[rounds];
            for (int i = 0; i < rounds; i++) {
                peerRounds[i] = run(curatorOps, seconds);
                oursRounds[i] = run(ourOps, seconds);
                progress(
                        "P7 %d contender(s) round %d: ours %.0f/s, Curator %.0f/s",
                        contenders, i + 1, oursRounds[i], peerRounds[i]);
            }
            return new Figure(
                            "P7",
                            "lock+unlock throughput / Curator InterProcessMutex, " + contenders + " contender"
                                    + (contenders == 1 ? "" : "s"),
                            median(oursRounds),
                            median(peerRounds),
                            goal,
                            "ops/s")
                    .with("config", config + ", 1-server")
                    .with("rounds", rounds)
                    .with("seconds_per_round", seconds)
                    .with("ours_per_round", Arrays.stream(oursRounds).boxed().toList())
                    .with("peer_per_round", Arrays.stream(peerRounds).boxed().toList())
                    .with("peer", "Curator 5.9.0 InterProcessMutex, one session per contender");
        } finally {
            managers.forEach(ZkLockManager::close);
            curators.forEach(CuratorFramework::close);
        }
    }

    @FunctionalInterface
    private interface Op {
        void run() throws Exception;
    }

    /** Runs every op in its own thread for {@code seconds}; returns completed ops per second. */
    private static double run(List<Op> ops, int seconds) throws InterruptedException {
        AtomicLong count = new AtomicLong();
        AtomicReference<Exception> failure = new AtomicReference<>();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
        List<Thread> threads = new ArrayList<>();
        long start = System.nanoTime();
        for (Op op : ops) {
            Thread t = new Thread(
                    () -> {
                        try {
                            while (System.nanoTime() < end) {
                                op.run();
                                count.incrementAndGet();
                            }
                        } catch (Exception e) {
                            failure.compareAndSet(null, e);
                        }
                    },
                    "bench-contender");
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        if (failure.get() != null) {
            throw new IllegalStateException("a contender failed: " + failure.get(), failure.get());
        }
        return count.get() / ((System.nanoTime() - start) / 1e9);
    }

    private static void ensure(ZooKeeper zk, String path) throws KeeperException, InterruptedException {
        try {
            zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // there already
        }
    }

    private static long median(long[] v) {
        long[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s[s.length / 2];
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
            return Files.createTempDirectory(base, "clustermd-lock-bench");
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
