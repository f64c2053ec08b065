package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code clustermd node --nbd-port}: a node process serving its array to qemu-io, stopped by SIGTERM. */
class NodeNbdTest {
    private static final Pattern EXPORT_LINE = Pattern.compile("NBD export md0 on 127\\.0\\.0\\.1:(\\d+)");

    @TempDir
    Path dir;

    private Process process;

    @AfterEach
    void killLeftover() throws InterruptedException {
        CliHarness.killLeftover(process);
    }

    private static int run(StringWriter err, String... args) {
        return ClusterMdMain.run(args, new PrintWriter(new StringWriter(), true), new PrintWriter(err, true));
    }

    private List<Path> array() throws IOException {
        List<Path> legs = CliHarness.legs(dir, 2, 24L << 20);
        StringWriter err = new StringWriter();
        assertThat(run(
                        err,
                        CliHarness.create(
                                "md0", legs.get(0).toString(), legs.get(1).toString())))
                .as(err.toString())
                .isZero();
        return legs;
    }

    @Test
    void badNbdOptionsAreUsageErrors() throws IOException {
        List<Path> legs = array();
        String l0 = legs.get(0).toString();
        String l1 = legs.get(1).toString();
        String[][] usage = {
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--nbd-port", "65536", l0, l1},
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--nbd-port", "-1", l0, l1},
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--nbd-bind", "127.0.0.1", l0, l1},
            {
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--nbd-port",
                "1",
                "--nbd-bind",
                "no.such.host.invalid",
                l0,
                l1
            },
        };
        for (String[] a : usage) {
            StringWriter err = new StringWriter();
            assertThat(run(err, a)).as("%s -> %s", String.join(" ", a), err).isEqualTo(2);
            assertThat(err.toString()).contains("--nbd-");
        }
    }

    @Test
    void aNodeServesItsArrayOverNbdUntilSigterm() throws Exception {
        List<Path> legs = array();
        try (EmbeddedZooKeeper zk =
                EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests())) {
            List<String> cmd = CliHarness.nodeCommand(
                    List.of(),
                    List.of(
                            "--name",
                            "md0",
                            "--zk",
                            zk.connectString(),
                            "--node-name",
                            "solo",
                            "--session-timeout",
                            "4000",
                            "--nbd-port",
                            "0",
                            legs.get(0).toString(),
                            legs.get(1).toString()));
            Path log = dir.resolve("node.log");
            process = new ProcessBuilder(cmd).redirectError(log.toFile()).start();
            List<String> lines = new CopyOnWriteArrayList<>();
            Thread reader = CliHarness.lineReader(process, lines);
            reader.start();
            CliHarness.waitForLine(process, lines, l -> EXPORT_LINE.matcher(l).find(), Timing.seconds(60));
            String nodeLog = read(log);
            String line = lines.stream()
                    .filter(l -> EXPORT_LINE.matcher(l).find())
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no NBD export line; stdout " + lines + "; log: " + nodeLog));
            Matcher m = EXPORT_LINE.matcher(line);
            assertThat(m.find()).isTrue();
            String uri = "nbd://127.0.0.1:" + m.group(1) + "/md0";

            String out = exec(
                    "qemu-io",
                    "-f",
                    "raw",
                    uri,
                    "-c",
                    "write -P 0xab 1M 1M",
                    "-c",
                    "flush",
                    "-c",
                    "read -P 0xab 1M 1M");
            assertThat(out).doesNotContain("Pattern verification failed");

            process.toHandle().destroy(); // SIGTERM
            assertThat(process.waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                    .isTrue();
            reader.join(Timing.millis(10_000));
            assertThat(process.exitValue()).as("exit; log: %s", read(log)).isZero();
        }
        try (Raid1Array check = Raid1Array.open(
                legs, ArrayOptions.builder().name("check").startFrozen(true).build())) {
            ByteBuffer b = AlignedBuffers.allocate(1 << 20);
            check.read(1 << 20, b);
            for (int i = 0; i < b.capacity(); i++)
                assertThat(b.get(i)).as("byte %d", i).isEqualTo((byte) 0xab);
        }
    }

    private static String read(Path p) throws IOException {
        return Files.exists(p) ? Files.readString(p) : "";
    }

    private static String exec(String... cmd) throws IOException, InterruptedException {
        Tools.require(cmd[0], "qemu-utils");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        assertThat(p.exitValue()).as("%s:%n%s", String.join(" ", cmd), out).isZero();
        return out;
    }
}
