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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.curator.test.InstanceSpec;
import org.apache.curator.test.TestingCluster;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.junit.jupiter.api.Test;

/**
 * The safety checker (issue 2): six clients, each with its own session, make random requests,
 * conversions, NOQUEUE requests, cancels and unlocks on three resources, while sessions are
 * expired at random and the leader of a 3-server ensemble is restarted. Two checks:
 * <ol>
 *   <li>every committed state (a surviving server's transaction log, replayed) holds only
 *       pairwise compatible granted modes;</li>
 *   <li>what clients believed they held, over time: two incompatible beliefs never overlap unless
 *       one of them was ended by a fence (SUSPENDED or LOST, or the test killing the session),
 *       and then the fenced PW/EX holder's fencing token is older than the other's.</li>
 * </ol>
 * The test kills a session from outside (another connection closes it), which real life never
 * does: there a session expires only after its client went a whole timeout without the server,
 * and the client was SUSPENDED, and so fenced, after two thirds of it. A killed client can go on
 * believing for as long as it takes the server to drop its connection (100 ms was seen while
 * the other clients had already been granted its locks), so the kill is its fence, like STONITH:
 * its beliefs end when the kill starts, and nothing that session reports later counts.
 * The seed is printed and can be replayed with {@code -Dclustermd.safety.seed=N}; the length with
 * {@code -Dclustermd.safety.seconds=S}.
 */
class LockSafetyCheckerTest {
    private int clients;
    private static final String[] RESOURCES = {"r0", "r1", "r2"};
    private static final LockMode[] MODES = LockMode.values();

    /** A belief: client c held mode m on resource r from start to end (nanoTime). */
    record Belief(int client, long incarnation, String resource, LockMode mode, long token, long start, long end,
            boolean fenced) {}

    private final List<Belief> beliefs = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger grants = new AtomicInteger();
    private final AtomicInteger expiries = new AtomicInteger();
    private final AtomicInteger deadlocks = new AtomicInteger();

    @Test
    void incompatibleModesAreNeverHeldAtOnce() throws Exception {
        campaign(6, Integer.getInteger("clustermd.safety.seconds", 20));
    }

    /** The long campaign of {@code -Pfaults}: more clients, minutes instead of seconds. */
    @Test
    @org.junit.jupiter.api.Tag("soak")
    void incompatibleModesAreNeverHeldAtOnceInALongCampaign() throws Exception {
        String budget = System.getProperty("clustermd.faults.budget",
                System.getenv().getOrDefault("CLUSTERMD_FAULTS_BUDGET", "long"));
        campaign(8, budget.equals("short") ? 60 : 600);
    }

    private void campaign(int clientCount, int defaultSeconds) throws Exception {
        this.clients = clientCount;
        long seed = Long.getLong("clustermd.safety.seed", System.nanoTime());
        int seconds = Integer.getInteger("clustermd.safety.seconds", defaultSeconds);
        System.out.println("LockSafetyCheckerTest seed=" + seed + " seconds=" + seconds + " clients=" + clients);
        Random chaos = new Random(seed);
        File base = Files.createTempDirectory("safety").toFile();
        List<InstanceSpec> specs = new ArrayList<>();
        for (int i = 1; i <= 3; i++) {
            File dir = new File(base, "zk" + i);
            dir.mkdirs();
            specs.add(new InstanceSpec(dir, -1, -1, -1, false, i, 500, -1));
        }
        TestingCluster cluster = new TestingCluster(specs);
        List<Client> clientList = new ArrayList<>();
        InstanceSpec killed = null;
        try {
            cluster.start();
            String cs = cluster.getConnectString();
            for (int i = 0; i < clients; i++) {
                clientList.add(new Client(i, cs, new Random(seed * 31 + i)));
            }
            clientList.forEach(Client::start);
            long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
            boolean leaderRestarted = false;
            long leaderAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds) * 2 / 5;
            while (System.nanoTime() < end) {
                Thread.sleep(500 + chaos.nextInt(1500));
                if (!leaderRestarted && System.nanoTime() > leaderAt) {
                    killed = leader(cluster);
                    System.out.println("restarting leader " + killed.getServerId());
                    cluster.killServer(killed);
                    Thread.sleep(1000);
                    cluster.restartServer(killed);
                    leaderRestarted = true;
                } else {
                    clientList.get(chaos.nextInt(clients)).expire(cs);
                }
            }
            assertThat(leaderRestarted).isTrue();
        } finally {
            clientList.forEach(Client::stop);
            clientList.forEach(Client::closeQuietly);
            cluster.stop();
        }
        try {
            // the log of a server that was never killed holds every committed transaction
            InstanceSpec survivor = null;
            for (InstanceSpec s : cluster.getInstances()) {
                if (!s.equals(killed)) {
                    survivor = s;
                }
            }
            TxnLogReplay.Result r = TxnLogReplay.replay(survivor.getDataDirectory());
            System.out.printf("seed=%d: %d grants observed, %d expiries, %d conversion deadlocks; replayed %d txns"
                    + " (%d on locks), checked %d resource states%n", seed, grants.get(), expiries.get(),
                    deadlocks.get(), r.txns(), r.lockTxns(), r.statesChecked());
            assertThat(r.gaps()).as("seed " + seed + ": the log must be complete").isEmpty();
            assertThat(r.violations()).as("seed " + seed + ": incompatible modes in a committed state").isEmpty();
            assertThat(r.lockTxns()).as("seed " + seed).isGreaterThan(200);
            assertThat(grants.get()).isGreaterThan(100);
            assertThat(expiries.get()).isPositive();
            checkBeliefs(seed);
        } finally {
            cluster.close();
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
                    assertThat(x.fenced() || y.fenced()).as(ctx).isTrue();
                    if (x.mode().isWriteMode() && y.mode().isWriteMode()) {
                        Belief fenced = x.fenced() ? x : y;
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
                    if (x.mode().isWriteMode() && y.mode().isWriteMode() && x.end() < y.start() && x.token() != y.token()) {
                        ordered++;
                        assertThat(x.token()).as("seed %d: token of %s not below the later %s", seed, x, y)
                                .isLessThan(y.token());
                    }
                }
            }
        }
        System.out.println("beliefs: " + beliefs.size() + ", overlapping incompatible pairs (all fenced): " + pairs
                + ", PW/EX holder pairs in token order: " + ordered);
    }

    private static InstanceSpec leader(TestingCluster cluster) throws Exception {
        for (int attempt = 0; attempt < 100; attempt++) {
            for (InstanceSpec s : cluster.getInstances()) {
                try (Socket sock = new Socket("127.0.0.1", s.getPort())) {
                    OutputStream o = sock.getOutputStream();
                    o.write("srvr".getBytes(StandardCharsets.US_ASCII));
                    o.flush();
                    BufferedReader in = new BufferedReader(new InputStreamReader(sock.getInputStream(), StandardCharsets.US_ASCII));
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

        Client(int id, String connectString, Random rnd) {
            this.id = id;
            this.connectString = connectString;
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
                thread.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }

        void closeQuietly() {
            ZkLockManager m = manager;
            if (m != null) {
                m.close();
            }
            closeAll(false);
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
                manager = ZkLockManager.builder().connectString(connectString).cluster("safety").nodeName("n" + id)
                        .sessionTimeout(Duration.ofSeconds(3)).connectionTimeout(Duration.ofSeconds(20)).build();
                ls = manager.join("ls", LockSpaceOptions.of(16).withListener(this).withRequestTimeout(Duration.ofSeconds(10)));
                for (String r : RESOURCES) {
                    handles.put(r, ls.resource(r));
                }
            } catch (DlmException e) {
                ls = null;
                Thread.sleep(200);
            }
        }

        private void step() throws DlmException, InterruptedException {
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

        private void stepOn(String r) throws DlmException, InterruptedException {
            LockResource h = handles.get(r);
            LockMode mode = MODES[rnd.nextInt(MODES.length)];
            int op = rnd.nextInt(100);
            if (op < 40) {
                ending(r);
                try {
                    granted(r, h.convert(mode, Duration.ofMillis(20 + rnd.nextInt(400))));
                } finally {
                    resumeIfHeld(r, h);
                }
            } else if (op < 55) {
                ending(r);
                try {
                    granted(r, h.tryConvert(mode));
                } finally {
                    resumeIfHeld(r, h);
                }
            } else if (op < 85) {
                ending(r);
                h.unlock();
            } else if (op < 90) {
                ending(r);
                CompletableFuture<LockGrant> f = h.convertAsync(mode);
                Thread.sleep(rnd.nextInt(30));
                h.cancel();
                try {
                    granted(r, f.get(10, TimeUnit.SECONDS));
                } catch (Exception e) {
                    // cancelled, deadlocked or lost
                }
                resumeIfHeld(r, h);
            } else {
                Thread.sleep(rnd.nextInt(20));
            }
        }

        private synchronized void granted(String r, LockGrant g) {
            grants.incrementAndGet();
            close(r, false);
            if (manager.sessionId() == killed) {
                return;
            }
            open.put(r, new Belief(id, manager.sessionId(), r, g.mode(), g.fencingToken(), System.nanoTime(), 0, false));
        }

        /** The mode held before a request stops counting when the request is sent (conservative). */
        private synchronized void ending(String r) {
            close(r, false);
        }

        /** A request that failed leaves the old mode held: count it again from now. */
        private synchronized void resumeIfHeld(String r, LockResource h) {
            if (!open.containsKey(r) && ls.state() == LockSpaceState.ACTIVE && manager.sessionId() != killed) {
                h.grantedMode().ifPresent(m -> open.put(r,
                        new Belief(id, manager.sessionId(), r, m, h.fencingToken(), System.nanoTime(), 0, false)));
            }
        }

        private synchronized void close(String r, boolean fenced) {
            Belief b = open.remove(r);
            if (b != null) {
                beliefs.add(new Belief(b.client(), b.incarnation(), b.resource(), b.mode(), b.token(), b.start(),
                        System.nanoTime(), fenced));
            }
        }

        private synchronized void closeAll(boolean fenced) {
            for (String r : new ArrayList<>(open.keySet())) {
                close(r, fenced);
            }
        }

        @Override
        public void stateChanged(LockSpaceState s) {
            if (s != LockSpaceState.ACTIVE) {
                closeAll(true); // fence: stop believing at once
            } else {
                synchronized (this) {
                    for (Map.Entry<String, LockResource> e : handles.entrySet()) {
                        // a resource with an operation in flight (an unlock whose reply was lost
                        // in the outage, say) is not held for sure: its operation's end decides
                        if (!busy.contains(e.getKey())) {
                            resumeIfHeld(e.getKey(), e.getValue());
                        }
                    }
                }
            }
        }
    }
}
