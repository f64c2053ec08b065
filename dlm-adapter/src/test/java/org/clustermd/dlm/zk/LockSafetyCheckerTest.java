package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.testing.TcpProxy;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;

/**
 * The safety checker (issues 2 and 8): clients, each with its own session behind its own TCP
 * proxies, make random requests, conversions, NOQUEUE requests, cancels and unlocks on three
 * resources, while sessions are expired and, on a 3-server ensemble, the leader is restarted.
 * Sessions expire two ways: a partition of one client (one-way, only what it sends is lost, or
 * both ways; some long enough for the server to expire the session, some not), and a kill from
 * outside (another connection closes the session). Two checks:
 * <ol>
 *   <li>every committed state (a never-killed server's transaction log, replayed) holds only
 *       pairwise compatible granted modes;</li>
 *   <li>what clients believed they held, over time: two incompatible beliefs never overlap
 *       (unless one of them was ended by the test's kill, and then the killed PW/EX holder's
 *       fencing token is older than the other's).</li>
 * </ol>
 * A client believes a mode from the delivery of its grant, if its lease is valid then, until it
 * releases it, or until its own SUSPENDED report or lease deadline, whichever is first: a
 * partitioned client's beliefs end by what the client itself knows, never by anything the test
 * does. The kill is different: real life never closes a session from outside (there a session
 * expires only after the server went a whole timeout without hearing from the client, which the
 * lease covers), and a killed client can go on believing for as long as it takes the server to
 * drop its connection, so the kill is its fence, like STONITH: its beliefs end when the kill
 * starts, and nothing that session reports later counts.
 * The seed is printed and can be replayed with {@code -Dclustermd.safety.seed=N}; the length with
 * {@code -Dclustermd.safety.seconds=S}.
 */
class LockSafetyCheckerTest {
    private int clients;
    private static final String[] RESOURCES = {"r0", "r1", "r2"};
    private static final LockMode[] MODES = LockMode.values();

    /**
     * A belief: client c held mode m on resource r from start to end (nanoTime); {@code killed}
     * when the test's kill ended it; {@code how} it began (which call granted it, or what the
     * client read as still held after which failure), so that a failure names its path.
     */
    record Belief(
            int client,
            long incarnation,
            String resource,
            LockMode mode,
            long token,
            long start,
            long end,
            boolean killed,
            String how) {}

    /** The session timeout of every client. */
    private static final Duration SESSION = Duration.ofSeconds(3);

    private final List<Belief> beliefs = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger grants = new AtomicInteger();
    private final AtomicInteger expiries = new AtomicInteger();
    private final AtomicInteger partitions = new AtomicInteger();
    private final AtomicInteger partitionExpiries = new AtomicInteger();
    private final AtomicInteger refusedGrants = new AtomicInteger();
    private final AtomicInteger deadlocks = new AtomicInteger();
    /** Joint requests (LockSpace#convertJointly) that granted all their conversions. */
    private final AtomicInteger jointGrants = new AtomicInteger();

    /** Three servers, a leader restart, kills and partitions. */
    @Test
    void incompatibleModesAreNeverHeldAtOnce() throws Exception {
        campaign(3, 6, Integer.getInteger("clustermd.safety.seconds", 20));
    }

    /** One server; every expiry comes from a partition, one-way or both ways. */
    @Test
    void incompatibleModesAreNeverHeldAtOnceWhenPartitionsExpireSessionsOnOneServer() throws Exception {
        campaign(1, 4, Integer.getInteger("clustermd.safety.seconds", 15));
    }

    /** The long campaigns of {@code -Pfaults}: more clients, minutes instead of seconds. */
    @Test
    @org.junit.jupiter.api.Tag("soak")
    void incompatibleModesAreNeverHeldAtOnceInALongCampaign() throws Exception {
        campaign(3, 8, budget() ? 60 : 600);
    }

    @Test
    @org.junit.jupiter.api.Tag("soak")
    void incompatibleModesAreNeverHeldAtOnceInALongPartitionCampaignOnOneServer() throws Exception {
        campaign(1, 8, budget() ? 60 : 300);
    }

    /** True for the short budget. */
    private static boolean budget() {
        String budget = System.getProperty(
                "clustermd.faults.budget", System.getenv().getOrDefault("CLUSTERMD_FAULTS_BUDGET", "long"));
        return budget.equals("short");
    }

    /** The servers of a campaign: one embedded server, or a curator-test ensemble. */
    private interface Servers extends AutoCloseable {
        List<Integer> clientPorts();

        String connectString();

        /** Kills the leader, waits, restarts it; false when there is none to restart. */
        boolean restartLeader() throws Exception;

        /** The data directory of a server that was never killed. */
        File survivorData();

        void stop() throws Exception;
    }

    private static final class OneServer implements Servers {
        private final File dir;
        private final EmbeddedZooKeeper server;

        OneServer(File base) throws Exception {
            dir = new File(base, "zk");
            server = EmbeddedZooKeeper.start(dir.toPath(), 0, ZooKeeperSettings.forTests());
        }

        @Override
        public List<Integer> clientPorts() {
            return List.of(server.clientPort());
        }

        @Override
        public String connectString() {
            return server.connectString();
        }

        @Override
        public boolean restartLeader() {
            return false;
        }

        @Override
        public File survivorData() {
            return dir;
        }

        @Override
        public void stop() {
            server.close();
        }

        @Override
        public void close() {
            server.close();
        }
    }

    private static final class Ensemble implements Servers {
        private final TestingCluster cluster;
        private InstanceSpec killed;

        Ensemble(File base) throws Exception {
            List<InstanceSpec> specs = new ArrayList<>();
            for (int i = 1; i <= 3; i++) {
                File dir = new File(base, "zk" + i);
                dir.mkdirs();
                specs.add(new InstanceSpec(dir, -1, -1, -1, false, i, 500, -1));
            }
            cluster = new TestingCluster(specs);
            cluster.start();
        }

        @Override
        public List<Integer> clientPorts() {
            return cluster.getInstances().stream().map(InstanceSpec::getPort).toList();
        }

        @Override
        public String connectString() {
            return cluster.getConnectString();
        }

        @Override
        public boolean restartLeader() throws Exception {
            killed = leader(cluster);
            System.out.println("restarting leader " + killed.getServerId());
            cluster.killServer(killed);
            Thread.sleep(1000);
            cluster.restartServer(killed);
            return true;
        }

        @Override
        public File survivorData() {
            // the log of a server that was never killed holds every committed transaction
            InstanceSpec survivor = null;
            for (InstanceSpec s : cluster.getInstances()) {
                if (!s.equals(killed)) {
                    survivor = s;
                }
            }
            return survivor.getDataDirectory();
        }

        @Override
        public void stop() throws Exception {
            cluster.stop();
        }

        @Override
        public void close() throws Exception {
            cluster.close();
        }
    }

    private void campaign(int serverCount, int clientCount, int defaultSeconds) throws Exception {
        this.clients = clientCount;
        long seed = Long.getLong("clustermd.safety.seed", System.nanoTime());
        int seconds = Integer.getInteger("clustermd.safety.seconds", defaultSeconds);
        System.out.println("LockSafetyCheckerTest seed=" + seed + " seconds=" + seconds + " servers=" + serverCount
                + " clients=" + clients);
        Random chaos = new Random(seed);
        File base = Files.createTempDirectory("safety").toFile();
        Servers servers = serverCount == 1 ? new OneServer(base) : new Ensemble(base);
        boolean kills = serverCount > 1;
        List<Client> clientList = new ArrayList<>();
        ScheduledExecutorService healer = Executors.newSingleThreadScheduledExecutor();
        try {
            String cs = servers.connectString();
            for (int i = 0; i < clients; i++) {
                clientList.add(new Client(i, servers.clientPorts(), new Random(seed * 31 + i)));
            }
            clientList.forEach(Client::start);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            boolean leaderRestarted = serverCount == 1;
            boolean longPartition = false;
            long leaderAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds) * 2 / 5;
            while (System.nanoTime() < end) {
                Thread.sleep(500 + chaos.nextInt(1500));
                Client victim = clientList.get(chaos.nextInt(clients));
                if (!leaderRestarted && System.nanoTime() > leaderAt) {
                    leaderRestarted = servers.restartLeader();
                } else if (kills && chaos.nextInt(3) == 0) {
                    victim.expire(cs);
                } else {
                    // the first one surely outlasts the session (timeout, tick rounding, the
                    // expiry's own round), the others may or may not
                    long ms = longPartition
                            ? SESSION.toMillis() * (4 + chaos.nextInt(21)) / 10
                            : SESSION.toMillis() * 5 / 2;
                    if (victim.partition(chaos.nextBoolean(), ms, healer)) {
                        longPartition = true;
                    }
                }
            }
            assertThat(leaderRestarted).isTrue();
            // let the last partitions heal and their clients rejoin before stopping
            healer.shutdown();
            healer.awaitTermination(SESSION.toMillis() * 3, TimeUnit.MILLISECONDS);
        } finally {
            healer.shutdownNow();
            clientList.forEach(Client::stop);
            clientList.forEach(Client::closeQuietly);
            servers.stop();
        }
        try {
            TxnLogReplay.Result r = TxnLogReplay.replay(servers.survivorData());
            System.out.printf(
                    "seed=%d: %d grants observed (%d refused as delivered after SUSPENDED), %d kills,"
                            + " %d partitions (%d expired a session), %d conversion deadlocks, %d joint"
                            + " requests granted; replayed %d txns"
                            + " (%d on locks), checked %d resource states%n",
                    seed,
                    grants.get(),
                    refusedGrants.get(),
                    expiries.get(),
                    partitions.get(),
                    partitionExpiries.get(),
                    deadlocks.get(),
                    jointGrants.get(),
                    r.txns(),
                    r.lockTxns(),
                    r.statesChecked());
            assertThat(r.gaps())
                    .as("seed " + seed + ": the log must be complete")
                    .isEmpty();
            assertThat(r.violations())
                    .as("seed " + seed + ": incompatible modes in a committed state")
                    .isEmpty();
            assertThat(r.lockTxns()).as("seed " + seed).isGreaterThan(200);
            assertThat(grants.get()).isGreaterThan(100);
            assertThat(jointGrants.get())
                    .as("seed " + seed + ": joint requests granted")
                    .isPositive();
            assertThat(partitionExpiries.get())
                    .as("seed " + seed + ": a partition expired a session")
                    .isPositive();
            if (kills) {
                assertThat(expiries.get() + partitionExpiries.get()).isGreaterThan(1);
            }
            checkBeliefs(seed);
        } finally {
            servers.close();
            deleteRecursively(base);
        }
    }

    private void checkBeliefs(long seed) {
        Map<String, List<Belief>> byResource = new HashMap<>();
        for (Belief b : beliefs) {
            byResource.computeIfAbsent(b.resource(), k -> new ArrayList<>()).add(b);
        }
        int pairs = 0;
        for (List<Belief> list : byResource.values()) {
            for (int i = 0; i < list.size(); i++) {
                for (int j = i + 1; j < list.size(); j++) {
                    Belief x = list.get(i);
                    Belief y = list.get(j);
                    if (x.client() == y.client() || x.mode().isCompatibleWith(y.mode())) {
                        continue;
                    }
                    if (x.start() >= y.end() || y.start() >= x.end()) {
                        continue;
                    }
                    pairs++;
                    String ctx = "seed " + seed + ": " + x + " overlaps " + y;
                    // a belief ended by the client's own SUSPENDED or lease deadline never overlaps
                    assertThat(x.killed() || y.killed()).as(ctx).isTrue();
                    if (x.mode().isWriteMode() && y.mode().isWriteMode()) {
                        Belief fenced = x.killed() ? x : y;
                        Belief other = fenced == x ? y : x;
                        assertThat(fenced.token()).as(ctx).isLessThan(other.token());
                    }
                }
            }
        }
        // fencing tokens grow in grant order: a PW/EX holder that started after another one ended
        // (on the same resource) has the larger token
        int ordered = 0;
        for (List<Belief> list : byResource.values()) {
            for (Belief x : list) {
                for (Belief y : list) {
                    if (x.mode().isWriteMode()
                            && y.mode().isWriteMode()
                            && x.end() < y.start()
                            && x.token() != y.token()) {
                        ordered++;
                        assertThat(x.token())
                                .as("seed %d: token of %s not below the later %s", seed, x, y)
                                .isLessThan(y.token());
                    }
                }
            }
        }
        System.out.println("beliefs: " + beliefs.size() + ", overlapping incompatible pairs (all killed): " + pairs
                + ", PW/EX holder pairs in token order: " + ordered);
    }

    private static InstanceSpec leader(TestingCluster cluster) throws Exception {
        for (int attempt = 0; attempt < 100; attempt++) {
            for (InstanceSpec s : cluster.getInstances()) {
                try (Socket sock = new Socket("127.0.0.1", s.getPort())) {
                    OutputStream o = sock.getOutputStream();
                    o.write("srvr".getBytes(StandardCharsets.US_ASCII));
                    o.flush();
                    BufferedReader in =
                            new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
                    for (String line; (line = in.readLine()) != null; ) {
                        if (line.equals("Mode: leader")) {
                            return s;
                        }
                    }
                } catch (java.io.IOException e) {
                    // not serving yet
                }
            }
            Thread.sleep(100);
        }
        throw new IllegalStateException("no leader");
    }

    private static void deleteRecursively(File f) {
        File[] kids = f.listFiles();
        if (kids != null) {
            for (File k : kids) {
                deleteRecursively(k);
            }
        }
        f.delete();
    }

    /** One client: its own session, one handle per resource, a thread making random requests. */
    final class Client implements LockSpaceListener {
        final int id;
        final String connectString;
        /** One per server: the client reaches the servers only through them. */
        final List<TcpProxy> proxies = new ArrayList<>();

        final Random rnd;
        final AtomicBoolean running = new AtomicBoolean(true);
        final Thread thread;
        volatile ZkLockManager manager;
        volatile LockSpace ls;
        final Map<String, LockResource> handles = new HashMap<>();
        // guarded by this: the open belief per resource
        private final Map<String, Belief> open = new HashMap<>();
        /** The session the test killed (guarded by this): what it reports is not believed. */
        private long killed;
        /** Resources with an operation in flight (guarded by this): their mode is in transition. */
        private final java.util.Set<String> busy = new java.util.HashSet<>();
        /**
         * Resources whose last operation ended with a request of theirs still pending (guarded
         * by this): what they hold is not known until it settles, and the next operation on
         * them decides.
         */
        private final java.util.Set<String> unsettled = new java.util.HashSet<>();
        /** Sessions a partition was started on (guarded by this). */
        private final java.util.Set<Long> partitioned = new java.util.HashSet<>();

        private volatile boolean cut;

        Client(int id, List<Integer> serverPorts, Random rnd) throws java.io.IOException {
            this.id = id;
            for (int port : serverPorts) {
                proxies.add(TcpProxy.start(port));
            }
            this.connectString = String.join(
                    ",", proxies.stream().map(TcpProxy::connectString).toList());
            this.rnd = rnd;
            this.thread = new Thread(this::run, "safety-client-" + id);
            this.thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        void stop() {
            running.set(false);
            thread.interrupt();
            try {
                thread.join(Timing.millis(10_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void closeQuietly() {
            proxies.forEach(TcpProxy::restore);
            ZkLockManager m = manager;
            if (m != null) {
                m.close();
            }
            closeAll(false);
            proxies.forEach(TcpProxy::close);
        }

        /**
         * Cuts this client off for {@code ms} (only what it sends when {@code oneWay}); the beliefs
         * end by what the client itself is told. Returns false when it is not a time to.
         */
        boolean partition(boolean oneWay, long ms, ScheduledExecutorService healer) {
            ZkLockManager m = manager;
            if (cut || m == null || ls == null || ls.state() != LockSpaceState.ACTIVE) {
                return false;
            }
            synchronized (this) {
                partitioned.add(m.sessionId());
            }
            cut = true;
            partitions.incrementAndGet();
            System.out.printf("partition of client %d (%s) for %d ms%n", id, oneWay ? "one-way" : "both ways", ms);
            for (TcpProxy p : proxies) {
                if (oneWay) {
                    p.cutClientToServer();
                } else {
                    p.cut();
                }
            }
            healer.schedule(
                    () -> {
                        proxies.forEach(TcpProxy::restore);
                        cut = false;
                    },
                    ms,
                    TimeUnit.MILLISECONDS);
            return true;
        }

        void expire(String cs) {
            ZkLockManager m = manager;
            if (m == null || ls == null || ls.state() != LockSpaceState.ACTIVE) {
                return;
            }
            synchronized (this) {
                killed = m.sessionId();
                closeAll(true);
            }
            try {
                ZkTestSupport.expire(m, cs);
                expiries.incrementAndGet();
            } catch (Exception e) {
                // the session may be mid-reconnect; try another time
            }
        }

        private void run() {
            while (running.get()) {
                try {
                    if (ls == null || ls.state() == LockSpaceState.LOST || ls.state() == LockSpaceState.CLOSED) {
                        rejoin();
                        continue;
                    }
                    if (ls.state() != LockSpaceState.ACTIVE) {
                        Thread.sleep(20);
                        continue;
                    }
                    step();
                } catch (InterruptedException e) {
                    return;
                } catch (DlmException e) {
                    if (e.code() == DlmException.Code.CONVERSION_DEADLOCK) {
                        deadlocks.incrementAndGet();
                    } else if (e.code() == DlmException.Code.SUSPENDED
                            && e.getMessage().contains("was granted")) {
                        refusedGrants.incrementAndGet();
                    }
                } catch (RuntimeException e) {
                    e.printStackTrace();
                }
            }
        }

        private void rejoin() throws InterruptedException {
            ZkLockManager old = manager;
            if (old != null) {
                old.close();
            }
            closeAll(true);
            handles.clear();
            try {
                manager = ZkLockManager.builder()
                        .connectString(connectString)
                        .cluster("safety")
                        .nodeName("n" + id)
                        .sessionTimeout(SESSION)
                        .connectionTimeout(Duration.ofSeconds(20))
                        .ensembleTracker(false)
                        .build();
                ls = manager.join(
                        "ls", LockSpaceOptions.of(16).withListener(this).withRequestTimeout(Duration.ofSeconds(10)));
                for (String r : RESOURCES) {
                    handles.put(r, ls.resource(r));
                }
            } catch (DlmException e) {
                ls = null;
                Thread.sleep(200);
            }
        }

        private void step() throws DlmException, InterruptedException {
            if (rnd.nextInt(100) < 10) {
                jointStep();
                return;
            }
            String r = RESOURCES[rnd.nextInt(RESOURCES.length)];
            synchronized (this) {
                busy.add(r);
            }
            try {
                stepOn(r);
            } finally {
                synchronized (this) {
                    busy.remove(r);
                }
            }
        }

        /**
         * Two or three resources converted in one joint request (LockSpace#convertJointly), each
         * at once or queued at random: whatever it grants is believed like any other grant.
         */
        private void jointStep() throws DlmException {
            List<String> rs = new ArrayList<>(List.of(RESOURCES));
            Collections.shuffle(rs, rnd);
            rs = rs.subList(0, 2 + rnd.nextInt(RESOURCES.length - 1));
            List<Conversion> cs = new ArrayList<>();
            for (String r : rs) {
                LockMode mode = MODES[rnd.nextInt(MODES.length)];
                LockResource h = handles.get(r);
                cs.add(rnd.nextBoolean() ? Conversion.now(h, mode) : Conversion.queued(h, mode));
            }
            synchronized (this) {
                busy.addAll(rs);
            }
            try {
                rs.forEach(this::ending);
                List<LockGrant> grants = ls.convertJointly(cs, Duration.ofMillis(20 + rnd.nextInt(400)));
                jointGrants.incrementAndGet();
                for (int i = 0; i < rs.size(); i++) granted(rs.get(i), grants.get(i), "convertJointly");
            } finally {
                for (String r : rs) resumeOnceSettled(r, handles.get(r), "convertJointly");
                synchronized (this) {
                    busy.removeAll(rs);
                }
            }
        }

        private void stepOn(String r) throws DlmException, InterruptedException {
            LockResource h = handles.get(r);
            LockMode mode = MODES[rnd.nextInt(MODES.length)];
            int op = rnd.nextInt(100);
            if (op < 40) {
                ending(r);
                try {
                    granted(r, h.convert(mode, Duration.ofMillis(20 + rnd.nextInt(400))), "convert");
                } finally {
                    resumeOnceSettled(r, h, "convert");
                }
            } else if (op < 55) {
                ending(r);
                try {
                    granted(r, h.tryConvert(mode), "tryConvert");
                } finally {
                    resumeOnceSettled(r, h, "tryConvert");
                }
            } else if (op < 85) {
                ending(r);
                try {
                    h.unlock();
                } finally {
                    resumeOnceSettled(r, h, "unlock");
                }
            } else if (op < 90) {
                ending(r);
                CompletableFuture<LockGrant> f = h.convertAsync(mode);
                Thread.sleep(rnd.nextInt(30));
                h.cancel();
                try {
                    granted(r, f.get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS), "convertAsync then cancel");
                } catch (Exception e) {
                    // cancelled, deadlocked or lost
                }
                resumeOnceSettled(r, h, "convertAsync then cancel");
            } else {
                Thread.sleep(rnd.nextInt(20));
            }
        }

        private synchronized void granted(String r, LockGrant g, String call) {
            grants.incrementAndGet();
            close(r, false);
            if (manager.sessionId() == killed) {
                return;
            }
            // a holder acts on a grant only while its lease is valid (the engine checks it before
            // every write); SUSPENDED is reported before the lease ends
            if (!ls.leaseValid()) {
                return;
            }
            open.put(
                    r,
                    new Belief(
                            id,
                            manager.sessionId(),
                            r,
                            g.mode(),
                            g.fencingToken(),
                            System.nanoTime(),
                            0,
                            false,
                            "granted by " + call + stopping()));
        }

        /** The mode held before a request stops counting when the request is sent (conservative). */
        private synchronized void ending(String r) {
            close(r, false);
        }

        /**
         * After an operation, what is held is read once no request of the lock is pending, as the
         * lock manager's contract says (LockResource#awaitNoRequest: a conversion whose cancel
         * could not be written yet may still be granted); until then the resource is unsettled.
         */
        private void resumeOnceSettled(String r, LockResource h, String after) {
            boolean settled;
            try {
                settled = h.awaitNoRequest(Duration.ofSeconds(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                settled = false;
            }
            synchronized (this) {
                if (settled) {
                    unsettled.remove(r);
                    resumeIfHeld(r, h, after);
                } else {
                    unsettled.add(r);
                }
            }
        }

        /**
         * A request that failed leaves the old mode held: count it again from now ({@code after}:
         * the call that failed, or the resume).
         */
        private synchronized void resumeIfHeld(String r, LockResource h, String after) {
            if (!open.containsKey(r) && ls.leaseValid() && manager.sessionId() != killed) {
                h.grantedMode()
                        .ifPresent(m -> open.put(
                                r,
                                new Belief(
                                        id,
                                        manager.sessionId(),
                                        r,
                                        m,
                                        h.fencingToken(),
                                        System.nanoTime(),
                                        0,
                                        false,
                                        "still held after " + after + stopping())));
            }
        }

        /** Marks what began while the test stops the clients (their threads interrupted). */
        private String stopping() {
            return running.get() ? "" : " (stopping)";
        }

        /** Ends a belief now, or at the lease deadline if that passed first. */
        private synchronized void close(String r, boolean byKill) {
            Belief b = open.remove(r);
            if (b != null) {
                long end = System.nanoTime();
                LockSpace current = ls;
                if (current != null && !byKill) {
                    long deadline = current.leaseDeadlineNanos();
                    if (deadline - end < 0 && deadline - b.start() > 0) {
                        end = deadline;
                    }
                }
                beliefs.add(new Belief(
                        b.client(),
                        b.incarnation(),
                        b.resource(),
                        b.mode(),
                        b.token(),
                        b.start(),
                        end,
                        byKill,
                        b.how()));
            }
        }

        private synchronized void closeAll(boolean byKill) {
            for (String r : new ArrayList<>(open.keySet())) {
                close(r, byKill);
            }
        }

        @Override
        public void stateChanged(LockSpaceState s) {
            if (s != LockSpaceState.ACTIVE) {
                closeAll(false); // its own fence: stop believing at once
                if (s == LockSpaceState.LOST) {
                    synchronized (this) {
                        LockSpace l = ls;
                        if (l instanceof ZkLockSpace z
                                && partitioned.remove(z.incarnation())
                                && z.incarnation() != killed) {
                            partitionExpiries.incrementAndGet();
                        }
                    }
                }
            } else {
                synchronized (this) {
                    for (Map.Entry<String, LockResource> e : handles.entrySet()) {
                        // a resource with an operation in flight (an unlock whose reply was lost
                        // in the outage, say) is not held for sure: its operation's end decides
                        if (!busy.contains(e.getKey()) && !unsettled.contains(e.getKey())) {
                            resumeIfHeld(e.getKey(), e.getValue(), "the resume (ACTIVE)");
                        }
                    }
                }
            }
        }
    }
}
