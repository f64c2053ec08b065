package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.verify.Verifier;

/**
 * The demo, step by step: in a temporary directory, an embedded ZooKeeper in this JVM, a
 * clustered 2-leg array on files, three {@code clustermd node} processes each writing its own
 * region; one is killed with SIGKILL, the survivors' recovery and resync are shown live; the
 * survivors stop with SIGTERM; then every acknowledged write is read back through a freshly
 * assembled array and the legs are compared. Everything it started is stopped and the directory
 * removed, whatever happens (a shutdown hook covers an interrupted JVM).
 *
 * <p>Not thread-safe: one run per instance.
 */
final class Demo {
    static final String ARRAY = "md0";
    static final String CLUSTER = "demo";
    static final int NODES = 3;
    static final long CHUNK = 1 << 20;

    private final PrintWriter out;
    private final long legBytes;
    private final long writeMillis;
    private final long sessionTimeoutMs;
    private final List<DemoNode> nodes = new ArrayList<>();
    private final long t0 = System.nanoTime();
    private Path dir;
    private EmbeddedZooKeeper zk;

    Demo(PrintWriter out, long legBytes, long writeMillis, long sessionTimeoutMs) {
        this.out = out;
        this.legBytes = legBytes;
        this.writeMillis = writeMillis;
        this.sessionTimeoutMs = sessionTimeoutMs;
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
        say("== clustermd demo: " + NODES + " nodes share a clustered RAID1 of 2 legs; one is killed with SIGKILL ==");
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
                        .assumeClean(true)
                        .build(),
                legs);
        long arrayBytes = created.sizeSectors() * 512;
        say("created " + ARRAY + " (clustermd create --name " + ARRAY + " --cluster-name " + CLUSTER + " --nodes "
                + NODES
                + " --assume-clean --bitmap-chunk 1M leg0 leg1): uuid " + SuperblockCodec.mdadmUuid(created.uuid())
                + ", "
                + arrayBytes / 1024 + " KiB on 2 x " + Sizes.human(legBytes) + " files");

        long region = arrayBytes / NODES / CHUNK * CHUNK;
        for (int i = 0; i < NODES; i++) {
            DemoNode n = new DemoNode("node" + (i + 1), dir, this::say);
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
                    "--workload",
                    (i * region / 1024) + "K:" + (region / 1024) + "K",
                    "--ack-log",
                    n.ackLog.toString()));
            legs.forEach(l -> cmd.add(l.toString()));
            say("starting " + n.name + ": clustermd node --name " + ARRAY + " --node-name " + n.name
                    + " --session-timeout " + sessionTimeoutMs + " ... writing bytes [" + i * region + ", "
                    + (i + 1) * region + ")");
            n.start(cmd);
            if (!waitFor(60_000, () -> n.slot >= 0 || !n.alive()))
                throw new IOException(n.name + " did not join in 60 s");
            if (n.slot < 0) throw new IOException(n.name + " exited before it joined");
        }

        say("all " + NODES + " nodes write their regions; letting them run " + writeMillis / 1000.0 + " s");
        Thread.sleep(writeMillis);
        DemoNode victim = nodes.get(NODES - 1);
        List<DemoNode> survivors = nodes.subList(0, NODES - 1);
        say("SIGKILL " + victim.name + " (pid " + victim.pid() + ", slot " + victim.slot
                + "): its bitmap slot keeps its dirty bits;" + " its session expires in " + sessionTimeoutMs
                + " ms, then the survivors recover the slot");
        long killedAt = System.nanoTime();
        victim.kill();
        boolean recovered = waitFor(
                60_000 + sessionTimeoutMs,
                () -> survivors.stream().allMatch(n -> n.copiedChunks >= 0)
                        && survivors.stream().allMatch(n -> n.copiedChunks == 0 || n.resyncDoneAfterRecovery));
        long recoveryMs = (System.nanoTime() - killedAt) / 1_000_000;
        if (!recovered)
            say("the survivors did not finish recovering " + victim.name + "'s slot within "
                    + (60_000 + sessionTimeoutMs) / 1000 + " s");
        else say("recovery and resync done " + recoveryMs + " ms after the kill; the survivors keep writing for 2 s");
        Thread.sleep(2000);

        say("SIGTERM " + String.join(", ", survivors.stream().map(n -> n.name).toList()) + " (graceful leave)");
        survivors.forEach(DemoNode::signalTerm);
        List<Integer> exits = new ArrayList<>();
        for (DemoNode n : survivors) exits.add(n.awaitExit(60));
        boolean stopped = exits.stream().allMatch(c -> c == 0);
        if (!stopped) say("not every survivor exited 0: " + exits);

        say(
                "verifying: legs compared byte by byte, then every acknowledged write read back through a freshly assembled array");
        Verifier.LegComparison legsCompared = Verifier.compareLegs(legs);
        List<AckVerifier.Result> results = new ArrayList<>();
        try (Raid1Array check = Raid1Array.open(
                legs, ArrayOptions.builder().name("verify").startFrozen(true).build())) {
            for (DemoNode n : nodes) {
                results.add(AckVerifier.verify(check, n.name, AckLog.read(n.ackLog), n == victim));
            }
        }
        boolean writesOk = results.stream().allMatch(AckVerifier.Result::ok);
        for (int i = 0; i < NODES - 1; i++) {
            // a node that stopped cleanly logged every write it acknowledged
            writesOk &= nodes.get(i).acknowledged == results.get(i).writes();
        }
        boolean ok = recovered && stopped && legsCompared.identical() && writesOk;
        summary(victim, survivors, legsCompared, results, recoveryMs, ok);
        if (!ok) reportLogs();
        return ok ? 0 : 1;
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
            String logged = n == victim
                    ? ""
                    : n.acknowledged == r.writes()
                            ? ", all in its ack log"
                            : " but " + n.acknowledged + " reported by the node: THE ACK LOG MISSES SOME";
            say(String.format(
                    Locale.ROOT,
                    "  %s (slot %d): %d writes acknowledged (%d blocks)%s, %s; %s",
                    n.name,
                    n.slot,
                    r.writes(),
                    r.blocks(),
                    logged,
                    n == victim ? "killed with SIGKILL" : "stopped with SIGTERM",
                    r.ok() ? "every one intact" : r.problems().size() + "+ PROBLEMS: " + r.problems()));
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
        long deadline = System.nanoTime() + millis * 1_000_000;
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() - deadline > 0) return false;
            Thread.sleep(50);
        }
        return true;
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
