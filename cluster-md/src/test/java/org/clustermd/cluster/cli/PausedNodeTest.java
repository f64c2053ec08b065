package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.clustermd.bitmap.BitmapGeometry;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.BitmapReport;
import org.clustermd.raid1.admin.ExamineReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 item 1 (docs/lessons.md §31): a node that writes without pause is SIGSTOPped past its
 * session timeout; a survivor recovers its bitmap slot and resyncs what it found. When the paused
 * node is SIGCONTed it must not write a leg again: its lease ran out while it was stopped, so
 * its writes are held until it learns its session is lost, and then it fences and exits. The
 * legs' data areas and the paused node's bitmap slot, checksummed after the survivor's resync,
 * are unchanged after the paused node is gone, and every write it acknowledged is on the legs.
 *
 * <p>Separate node processes on a real ZooKeeper and shared leg files, as an operator runs them.
 * With a lease that follows only the session state, the resumed node still believed in its
 * session and wrote (the checksums differ).
 */
class PausedNodeTest {
    /** Scaled on a slow machine: a node that cannot renew its lease under load cannot even join. */
    private static final long SESSION_MS = Timing.scaled(Duration.ofSeconds(4)).toMillis();

    private static final long WAIT_NANOS = Timing.scaled(Duration.ofSeconds(90)).toNanos();

    @TempDir
    Path dir;

    private final List<Node> nodes = new ArrayList<>();

    /** One node process and the lines it printed. */
    private static final class Node {
        final String name;
        final Process process;
        final List<String> lines = new CopyOnWriteArrayList<>();
        final Path log;

        Node(String name, Process process, Path log) {
            this.name = name;
            this.process = process;
            this.log = log;
            Thread reader = CliHarness.lineReader(process, lines);
            reader.setName("stdout-" + name);
            reader.setDaemon(true);
            reader.start();
        }

        String describe() {
            String err;
            try {
                err = Files.readString(log);
            } catch (IOException e) {
                err = e.toString();
            }
            return name + " stdout " + lines + "\n" + name + " log:\n" + err + threads();
        }

        /** A live process's threads: where it is stuck when it does not exit. */
        private String threads() {
            if (!process.isAlive()) return "";
            try {
                Process p = new ProcessBuilder(
                                Paths.get(System.getProperty("java.home"), "bin", "jcmd")
                                        .toString(),
                                Long.toString(process.pid()),
                                "Thread.print")
                        .redirectErrorStream(true)
                        .start();
                String dump = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                p.waitFor(20, TimeUnit.SECONDS);
                return "\n" + name + " threads:\n" + dump;
            } catch (IOException | InterruptedException e) {
                return "\n" + name + " threads: " + e;
            }
        }
    }

    @AfterEach
    void stopEveryNode() throws Exception {
        for (Node n : nodes) {
            if (!n.process.isAlive()) continue;
            signal(n, "CONT"); // a stopped process still dies of SIGKILL, but let it go cleanly if it can
            n.process.destroyForcibly();
            n.process.waitFor(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    private static int run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = ClusterMdMain.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        assertThat(code).as("%s: %s", String.join(" ", args), err).isZero();
        return code;
    }

    private Node start(String name, String zk, List<Path> legs, String... extra) throws IOException {
        List<String> nodeArgs = new ArrayList<>(List.of(
                "--name", "md0", "--zk", zk, "--node-name", name, "--session-timeout", Long.toString(SESSION_MS)));
        nodeArgs.addAll(List.of(extra));
        for (Path l : legs) nodeArgs.add(l.toString());
        List<String> cmd = CliHarness.nodeCommand(List.of(), nodeArgs);
        Path log = dir.resolve(name + ".log");
        Node n = new Node(
                name, new ProcessBuilder(cmd).redirectError(log.toFile()).start(), log);
        nodes.add(n);
        return n;
    }

    private static void signal(Node n, String sig) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + sig, Long.toString(n.process.pid()))
                .redirectErrorStream(true)
                .start();
        assertThat(kill.waitFor(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
    }

    private static void awaitLine(Node n, Predicate<String> what, String description) throws InterruptedException {
        long deadline = System.nanoTime() + WAIT_NANOS;
        while (n.lines.stream().noneMatch(what) && System.nanoTime() - deadline < 0) Thread.sleep(50);
        assertThat(n.lines.stream().anyMatch(what))
                .as("%s printed %s; %s", n.name, description, n.describe())
                .isTrue();
    }

    /** What a paused node must not change: every leg's data area and the node's bitmap slot. */
    private static String checksum(List<Path> legs, int slot) throws Exception {
        ExamineReport r = Examiner.examine(legs.get(0));
        Superblock sb = r.superblock();
        BitmapReport bm = r.bitmap().orElseThrow();
        BitmapGeometry g = new BitmapGeometry(bm.syncSize(), bm.chunksize(), bm.nodes());
        long area = (sb.superOffset() + sb.bitmapOffset()) * 512;
        StringBuilder out = new StringBuilder();
        for (Path leg : legs) {
            out.append(leg.getFileName())
                    .append(" data ")
                    .append(digest(leg, sb.dataOffset() * 512, sb.size() * 512))
                    .append(" slot")
                    .append(slot)
                    .append(' ')
                    .append(digest(leg, area + g.slotOffset(slot), g.stride()))
                    .append('\n');
        }
        return out.toString();
    }

    private static String digest(Path file, long offset, long length) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        byte[] buf = new byte[1 << 20];
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            raf.seek(offset);
            for (long left = length; left > 0; ) {
                int n = raf.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) throw new IOException(file + " ends before " + (offset + length));
                md.update(buf, 0, n);
                left -= n;
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    @Test
    void aNodePausedPastItsSessionTimeoutIssuesNoLegWriteAfterItsLeaseRanOut() throws Exception {
        List<Path> legs = CliHarness.legs(dir, 2, 24L << 20);
        run(CliHarness.create("md0", legs.get(0).toString(), legs.get(1).toString()));
        Path acks = dir.resolve("acks-paused");
        try (EmbeddedZooKeeper zk =
                EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests())) {
            Node paused = start("paused", zk.connectString(), legs, "--workload", "0:8M", "--ack-log", acks.toString());
            awaitLine(paused, l -> l.startsWith("writing ["), "that it writes");
            String joined = paused.lines.stream()
                    .filter(l -> l.startsWith("joined slot "))
                    .findFirst()
                    .orElseThrow();
            int slot = Integer.parseInt(
                    joined.substring("joined slot ".length(), joined.indexOf(' ', "joined slot ".length())));
            Node survivor = start("survivor", zk.connectString(), legs);
            awaitLine(survivor, l -> l.startsWith("joined slot "), "that it joined");
            Thread.sleep(1000); // the paused node writes all the while

            signal(paused, "STOP");
            awaitLine(
                    survivor,
                    l -> l.startsWith("copied ") && l.endsWith("from slot " + slot),
                    "that it moved the dirty bits");
            awaitLine(survivor, l -> l.contains(" done: copied "), "the end of its resync");
            String before = checksum(legs, slot);

            signal(paused, "CONT");
            assertThat(paused.process.waitFor(WAIT_NANOS, TimeUnit.NANOSECONDS))
                    .as("the resumed node exits; %s", paused.describe())
                    .isTrue();
            assertThat(paused.process.exitValue())
                    .as("it fenced itself; %s", paused.describe())
                    .isEqualTo(1);
            assertThat(paused.lines).as(paused.describe()).anyMatch(l -> l.startsWith("stopping (fenced: "));
            String after = checksum(legs, slot);
            assertThat(after)
                    .as("no leg write after the lease ran out; %s", paused.describe())
                    .isEqualTo(before);

            assertThat(survivor.process.isAlive()).as(survivor.describe()).isTrue();
            survivor.process.toHandle().destroy(); // SIGTERM: a graceful leave
            assertThat(survivor.process.waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                    .isTrue();
            assertThat(survivor.process.exitValue()).as(survivor.describe()).isZero();
        }
        AckLog.Contents log = AckLog.read(acks);
        assertThat(log.entries()).isNotEmpty();
        try (Raid1Array check = Raid1Array.open(
                legs, ArrayOptions.builder().name("check").startFrozen(true).build())) {
            AckVerifier.Result r = AckVerifier.verify(check, "paused", log, true);
            assertThat(r.problems())
                    .as("every write the paused node acknowledged is on the legs")
                    .isEmpty();
        }
    }
}
