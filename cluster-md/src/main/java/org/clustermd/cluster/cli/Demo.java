package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.clustermd.cluster.nbd.NbdClient;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;

/**
 * The demo, step by step: in a temporary directory, an embedded ZooKeeper in this JVM, a
 * clustered 2-leg array on files, three {@code clustermd node} processes each exporting the
 * array over NBD on 127.0.0.1, and in this JVM one {@link DemoClient} per node writing its share
 * of the blocks ({@link DemoLayout}: interleaved by default, so every chunk has writers on every
 * node) through that node's export, logging each write once the export promised it durable. The
 * array is created without {@code --assume-clean} by default, so its initial resync (throttled to
 * last about {@link #INITIAL_RESYNC_SECONDS} s) runs under those writes: only the RESYNCING
 * windows keep the legs equal then. Once it is over, one node is killed with SIGKILL; the survivors' recovery and
 * resync are shown live, from their own progress lines and from their {@code status} (read
 * through JMX as {@code clustermd status} reads it); every acknowledged write is read back
 * through a survivor's export; the survivors stop with SIGTERM; then every acknowledged write is
 * read again through a freshly assembled array and the legs are compared. Everything it started
 * is stopped and the directory removed, whatever happens (a shutdown hook covers an interrupted
 * JVM).
 *
 * <p>Not thread-safe: one run per instance.
 */
final class Demo {
    static final String ARRAY = "md0";
    static final String CLUSTER = "demo";
    static final int NODES = 3;
    static final long CHUNK = 1 << 20;
    /** About how long the throttled initial resync lasts, so it overlaps the joins and the writes. */
    static final long INITIAL_RESYNC_SECONDS = 8;

    private final PrintWriter out;
    private final long legBytes;
    private final long writeMillis;
    private final long sessionTimeoutMs;
    private final DemoLayout layout;
    /** Whether the array is created without {@code --assume-clean}, so its initial resync runs under the writes. */
    private final boolean initialResync;

    private final List<DemoNode> nodes = new ArrayList<>();
    /** The NBD clients, one per node, in the same order. */
    private final List<DemoClient> clients = new ArrayList<>();

    private final long t0 = System.nanoTime();
    private Path dir;
    private EmbeddedZooKeeper zk;

    Demo(
            PrintWriter out,
            long legBytes,
            long writeMillis,
            long sessionTimeoutMs,
            DemoLayout layout,
            boolean initialResync) {
        this.out = out;
        this.legBytes = legBytes;
        this.writeMillis = writeMillis;
        this.sessionTimeoutMs = sessionTimeoutMs;
        this.layout = layout;
        this.initialResync = initialResync;
    }

    /** Runs the demo; 0 only when every acknowledged write was found intact and the legs are identical. */
    int run() {
        Thread hook = new Thread(this::cleanUp, "clustermd-demo-cleanup");
        Runtime.getRuntime().addShutdownHook(hook);
        try {
            return steps();
        } catch (IOException | RuntimeException e) {
            say("demo failed: " + e.getMessage());
            reportLogs();
            return 1;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            say("demo interrupted");
            return 1;
        } finally {
            cleanUp();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // the JVM is exiting: the hook runs cleanUp, which is idempotent
            }
        }
    }

    private int steps() throws IOException, InterruptedException {
        say("== clustermd demo: " + NODES + " nodes share a clustered RAID1 of 2 legs and export it over NBD;"
                + " one is killed with SIGKILL ==");
        dir = Files.createTempDirectory("clustermd-demo-");
        zk = EmbeddedZooKeeper.start(
                Files.createDirectories(dir.resolve("zk")),
                0,
                ZooKeeperSettings.builder()
                        .tickTimeMs(250)
                        .sessionTimeoutRangeMs(1_000, 60_000)
                        .forceSync(false)
                        .build());
        say("ZooKeeper (embedded, in this JVM) at " + zk.connectString() + "; working in " + dir);

        List<Path> legs = List.of(dir.resolve("leg0"), dir.resolve("leg1"));
        for (Path leg : legs) {
            try (RandomAccessFile f = new RandomAccessFile(leg.toFile(), "rw")) {
                f.setLength(legBytes);
            }
        }
        CreateResult created = ArrayCreator.create(
                CreateOptions.builder(ARRAY)
                        .clusterName(CLUSTER)
                        .nodes(NODES)
                        .bitmapChunk(CHUNK)
                        .assumeClean(!initialResync)
                        .build(),
                legs);
        long arrayBytes = created.sizeSectors() * 512;
        // slow enough that the initial resync lasts while every node joins and writes: about 8 s
        long syncSpeedMaxKib = Math.max(1000, arrayBytes / 1024 / INITIAL_RESYNC_SECONDS);
        say("created " + ARRAY + " (clustermd create --name " + ARRAY + " --cluster-name " + CLUSTER + " --nodes "
                + NODES
                + (initialResync ? "" : " --assume-clean") + " --bitmap-chunk 1M leg0 leg1): uuid "
                + SuperblockCodec.mdadmUuid(created.uuid())
                + ", "
                + arrayBytes / 1024 + " KiB on 2 x " + Sizes.human(legBytes) + " files");
        if (initialResync)
            say("no --assume-clean: the legs are not known to be equal, so the first node to join resyncs them,"
                    + " with the others writing");

        for (int i = 0; i < NODES; i++) {
            DemoNode n = new DemoNode("node" + (i + 1), dir, freePort(), this::say);
            nodes.add(n);
            List<String> cmd = javaCommand();
            cmd.addAll(List.of(
                    "node",
                    "--name",
                    ARRAY,
                    "--zk",
                    zk.connectString(),
                    "--node-name",
                    n.name,
                    "--session-timeout",
                    Long.toString(sessionTimeoutMs),
                    "--nbd-port",
                    "0",
                    "--jmx-port",
                    Integer.toString(n.jmxPort),
                    "--jmx-insecure-localhost"));
            // the resync's pace fixed, min = max: it is to run under the peers' writes, not yield to
            // them as it would at the default minimum (docs/md-cluster-protocol.md §e.9)
            String kib = Long.toString(syncSpeedMaxKib);
            String throttle = initialResync ? " --sync-speed-min " + kib + " --sync-speed-max " + kib : "";
            if (initialResync) cmd.addAll(List.of("--sync-speed-min", kib, "--sync-speed-max", kib));
            legs.forEach(l -> cmd.add(l.toString()));
            say("starting " + n.name + ": clustermd node --name " + ARRAY + " --node-name " + n.name
                    + " --session-timeout " + sessionTimeoutMs + " --nbd-port 0 --jmx-port " + n.jmxPort
                    + " --jmx-insecure-localhost" + throttle + " leg0 leg1");
            n.start(cmd);
            if (!waitFor(60_000, () -> (n.slot >= 0 && n.nbdPort > 0) || !n.alive()))
                throw new IOException(n.name + " did not join and export " + ARRAY + " in 60 s");
            if (!n.alive()) throw new IOException(n.name + " exited before it joined");
            DemoLayout.Assignment share = layout.assign(i, NODES, arrayBytes, CHUNK);
            DemoClient c = DemoClient.connect(n.nbdPort, ARRAY, dir.resolve(n.name + ".acks"), n.slot + 1L, share);
            clients.add(c);
            // with an initial resync the writes must start while it runs: each writer as soon as its node is in
            if (initialResync) c.start();
            if (c.exportSize() != arrayBytes)
                throw new IOException(n.name + " exports " + c.exportSize() + " bytes, not " + arrayBytes);
            say("NBD client -> " + n.name + " (127.0.0.1:" + n.nbdPort + ", export " + ARRAY + "): writer "
                    + c.writer + " writes " + share.describe() + "; a write is acknowledged once durable (its FUA"
                    + " reply, or a FLUSH after it) and then logged here, on the client side");
        }

        // the writers start once every node joined: a busy machine then delays no join's lease renewals
        if (!initialResync) clients.forEach(DemoClient::start);
        say("all " + NODES + " nodes take writes through NBD; letting them run " + writeMillis / 1000.0 + " s"
                + (initialResync
                        ? ", while the initial resync runs under them: its node announces each window it copies"
                                + " (RESYNCING) and the peers hold their writes only there"
                        : ""));
        List<DemoNode> survivors = nodes.subList(0, NODES - 1);
        List<DemoStatus> status = new ArrayList<>();
        for (DemoNode n : survivors) status.add(new DemoStatus(n.name, "127.0.0.1", n.jmxPort, this::say));
        try {
            return afterStart(legs, survivors, status);
        } finally {
            status.forEach(DemoStatus::close);
        }
    }

    private int afterStart(List<Path> legs, List<DemoNode> survivors, List<DemoStatus> status)
            throws IOException, InterruptedException {
        Thread.sleep(writeMillis);
        status.forEach(DemoStatus::poll);
        if (initialResync && !awaitInitialResync(status)) {
            reportLogs();
            return 1;
        }
        DemoNode victim = nodes.get(NODES - 1);
        DemoClient victimClient = clients.get(NODES - 1);
        say("SIGKILL " + victim.name + " (pid " + victim.pid() + ", slot " + victim.slot
                + "): its bitmap slot keeps its dirty bits;" + " its session expires in " + sessionTimeoutMs
                + " ms, then the survivors recover the slot");
        long killedAt = System.nanoTime();
        victim.kill();
        DemoWorkload.Result victimRun = victimClient.stop();
        say("the NBD client of " + victim.name + " lost its connection ("
                + (victimRun.error() == null ? "no request failed" : rootMessage(victimRun.error())) + "); "
                + victimClient.logged() + " of its writes were acknowledged durable before that");
        boolean recovered = waitFor(
                60_000 + sessionTimeoutMs,
                () -> {
                    status.forEach(DemoStatus::poll);
                    return survivors.stream().allMatch(n -> n.copiedChunks >= 0)
                            && survivors.stream().allMatch(n -> n.copiedChunks == 0 || n.resyncDoneAfterRecovery);
                },
                200);
        long recoveryMs = (System.nanoTime() - killedAt) / 1_000_000;
        status.forEach(DemoStatus::poll);
        if (!recovered)
            say("the survivors did not finish recovering " + victim.name + "'s slot within "
                    + (60_000 + sessionTimeoutMs) / 1000 + " s");
        else say("recovery and resync done " + recoveryMs + " ms after the kill; the survivors keep writing for 2 s");
        Thread.sleep(2000);

        boolean clientsOk = true;
        for (int i = 0; i < NODES - 1; i++) {
            DemoWorkload.Result r = clients.get(i).stop();
            if (r.error() != null) {
                say("the NBD client of " + nodes.get(i).name + " failed: " + rootMessage(r.error()));
                clientsOk = false;
            }
        }
        for (DemoClient c : clients) c.close();
        say("verifying: every acknowledged write read back through " + survivors.get(0).name + "'s NBD export");
        List<AckVerifier.Result> overNbd = new ArrayList<>();
        try (NbdClient reader = NbdClient.connect(
                new InetSocketAddress("127.0.0.1", survivors.get(0).nbdPort), ARRAY, Duration.ofSeconds(20))) {
            for (int i = 0; i < NODES; i++) {
                overNbd.add(AckVerifier.verify(
                        reader, nodes.get(i).name, AckLog.read(clients.get(i).ackLog), nodes.get(i) == victim));
            }
        }

        say("SIGTERM " + String.join(", ", survivors.stream().map(n -> n.name).toList()) + " (graceful leave)");
        survivors.forEach(DemoNode::signalTerm);
        List<Integer> exits = new ArrayList<>();
        for (DemoNode n : survivors) exits.add(n.awaitExit(60));
        boolean stopped = exits.stream().allMatch(c -> c == 0);
        if (!stopped) say("not every survivor exited 0: " + exits);

        say("verifying again after the shutdown: legs compared byte by byte, then every acknowledged write read"
                + " back through a freshly assembled array");
        Verifier.LegComparison legsCompared = Verifier.compareLegs(legs);
        List<AckVerifier.Result> results = new ArrayList<>();
        try (Raid1Array check = Raid1Array.open(
                legs, ArrayOptions.builder().name("verify").startFrozen(true).build())) {
            for (int i = 0; i < NODES; i++) {
                DemoNode n = nodes.get(i);
                AckVerifier.Result fresh = AckVerifier.verify(
                        BlockTarget.of(check), n.name, AckLog.read(clients.get(i).ackLog), n == victim);
                List<String> problems = new ArrayList<>(overNbd.get(i).problems());
                fresh.problems().forEach(p -> problems.add("after the shutdown: " + p));
                results.add(new AckVerifier.Result(n.name, fresh.writer(), fresh.writes(), fresh.blocks(), problems));
            }
        }
        boolean writesOk = results.stream().allMatch(AckVerifier.Result::ok);
        for (int i = 0; i < NODES; i++) {
            // the client logged every write it counted: its log must hold them all
            writesOk &= clients.get(i).logged() == results.get(i).writes();
        }
        boolean ok = recovered && clientsOk && stopped && legsCompared.identical() && writesOk;
        summary(victim, survivors, legsCompared, results, recoveryMs, ok);
        if (!ok) reportLogs();
        return ok ? 0 : 1;
    }

    /**
     * Waits for the initial resync to end (it runs under the writes; the kill comes after it, so
     * the recovery's figures are the dead slot's alone) and says how many writes it ran under.
     */
    private boolean awaitInitialResync(List<DemoStatus> status) throws InterruptedException {
        boolean done = waitFor(
                120_000,
                () -> {
                    status.forEach(DemoStatus::poll);
                    return nodes.stream().anyMatch(n -> n.initialResyncBytes >= 0);
                },
                200);
        if (!done) {
            say("the initial resync did not end within 120 s");
            return false;
        }
        DemoNode by = nodes.stream()
                .filter(n -> n.initialResyncBytes >= 0)
                .findFirst()
                .orElseThrow();
        long acked = clients.stream().mapToLong(DemoClient::logged).sum();
        say("initial resync done by " + by.name + " (" + Sizes.human(by.initialResyncBytes) + " copied) under the"
                + " writes of all " + NODES + " nodes into every chunk; " + acked
                + " writes acknowledged durable so far");
        return true;
    }

    private void summary(
            DemoNode victim,
            List<DemoNode> survivors,
            Verifier.LegComparison legs,
            List<AckVerifier.Result> results,
            long recoveryMs,
            boolean ok) {
        say("== summary ==");
        for (int i = 0; i < nodes.size(); i++) {
            DemoNode n = nodes.get(i);
            AckVerifier.Result r = results.get(i);
            long counted = clients.get(i).logged();
            String logged = counted == r.writes()
                    ? ", all in its ack log"
                    : " but " + counted + " counted by its client: THE ACK LOG MISSES SOME";
            say(String.format(
                    Locale.ROOT,
                    "  %s (slot %d): %d writes acknowledged durable through NBD (%d blocks)%s, %s; %s",
                    n.name,
                    n.slot,
                    r.writes(),
                    r.blocks(),
                    logged,
                    n == victim ? "killed with SIGKILL" : "stopped with SIGTERM",
                    r.ok()
                            ? "every one intact, through NBD and after the shutdown"
                            : r.problems().size() + "+ PROBLEMS: " + r.problems()));
        }
        long chunks =
                survivors.stream().mapToLong(n -> Math.max(0, n.copiedChunks)).sum();
        long bytes = survivors.stream().mapToLong(n -> n.resyncedBytes).sum();
        String by = String.join(
                ", ",
                survivors.stream()
                        .filter(n -> n.copiedChunks > 0)
                        .map(n -> n.name)
                        .toList());
        say(String.format(
                Locale.ROOT,
                "  recovered: %d dirty chunks of slot %d (by %s), %d ms after the kill",
                chunks,
                victim.slot,
                by.isEmpty() ? "nobody" : by,
                recoveryMs));
        say(String.format(
                Locale.ROOT,
                "  resynced: %d bytes = %.2f x (dirty chunks x %s)",
                bytes,
                chunks == 0 ? 0.0 : (double) bytes / (chunks * CHUNK),
                Sizes.human(CHUNK)));
        say("  legs: "
                + (legs.identical()
                        ? "byte-identical over " + legs.bytesCompared() + " bytes"
                        : legs.differingBlocks() + " blocks DIFFER, the first at byte " + legs.firstDifference()));
        say(String.format(Locale.ROOT, "  time: %.1f s", (System.nanoTime() - t0) / 1e9));
        say(ok ? "RESULT: OK - every acknowledged write is intact and the legs are identical" : "RESULT: FAILED");
    }

    /** The demo's own java, JVM flags (but a debugger's) and classpath, and the CLI's main class. */
    private static List<String> javaCommand() {
        String java = ProcessHandle.current()
                .info()
                .command()
                .orElse(Paths.get(System.getProperty("java.home"), "bin", "java")
                        .toString());
        List<String> cmd = new ArrayList<>();
        cmd.add(java);
        for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
            if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp")) cmd.add(a);
        }
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(ClusterMdMain.class.getName());
        return cmd;
    }

    private boolean waitFor(long millis, BooleanSupplier condition) throws InterruptedException {
        return waitFor(millis, condition, 50);
    }

    private boolean waitFor(long millis, BooleanSupplier condition, long everyMillis) throws InterruptedException {
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) return false;
            Thread.sleep(everyMillis);
        }
        return true;
    }

    /** A port free on 127.0.0.1 now, for a node's JMX (which cannot pick its own). */
    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) t = t.getCause();
        return t.getMessage() == null ? t.toString() : t.getMessage();
    }

    private void reportLogs() {
        for (DemoNode n : nodes) {
            List<String> tail = n.logTail(15);
            if (tail.isEmpty()) continue;
            say("-- last lines of " + n.name + "'s log --");
            tail.forEach(l -> say("   " + l));
        }
    }

    /** Stops every node and ZooKeeper and removes the directory; idempotent, never throws. */
    private synchronized void cleanUp() {
        for (DemoClient c : clients) {
            try {
                c.close();
            } catch (IOException | RuntimeException e) {
                // cleaning up: the node may be gone already
            }
        }
        for (DemoNode n : nodes) n.destroy();
        if (zk != null) {
            zk.close();
            zk = null;
        }
        if (dir != null) {
            try (Stream<Path> all = Files.walk(dir)) {
                all.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            } catch (IOException e) {
                System.err.println("clustermd demo: could not remove " + dir + ": " + e.getMessage());
            }
            dir = null;
        }
    }

    private void say(String line) {
        synchronized (out) {
            out.println(line);
            out.flush();
        }
    }
}
