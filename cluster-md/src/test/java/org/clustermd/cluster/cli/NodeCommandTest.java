package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.ExamineReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.admin.SlotReport;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code clustermd node} as an operator runs it: a separate process on a real ZooKeeper, stopped by SIGTERM. */
class NodeCommandTest {
    @TempDir
    Path dir;

    private Process process;

    @AfterEach
    void killLeftover() throws InterruptedException {
        CliHarness.killLeftover(process);
    }

    private List<Path> array(String name) throws Exception {
        List<Path> legs = CliHarness.legs(dir, name + "-leg", 2, 24L << 20);
        Result c =
                run(CliHarness.create(name, legs.get(0).toString(), legs.get(1).toString()));
        assertThat(c.code()).as(c.err()).isZero();
        return legs;
    }

    @Test
    void badOptionsAreUsageErrorsAndTheWrongArrayFails() throws Exception {
        List<Path> legs = array("md0");
        String l0 = legs.get(0).toString();
        String l1 = legs.get(1).toString();
        String[][] usage = {
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", l0, l1}, // no --node-name
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "a/b", l0, l1},
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--session-timeout", "0", l0, l1},
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--workload", "0:4M", l0, l1},
            {
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--workload",
                "4M",
                "--ack-log",
                "x",
                l0,
                l1
            },
            {
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--workload",
                "1:4M",
                "--ack-log",
                "x",
                l0,
                l1
            },
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--jmx-port", "9999", l0, l1},
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n"}, // no leg
        };
        for (String[] a : usage) {
            Result r = run(a);
            assertThat(r.code()).as("%s -> %s", String.join(" ", a), r.err()).isEqualTo(2);
        }
        Result wrong = run("node", "--name", "md9", "--zk", "127.0.0.1:1", "--node-name", "n", l0, l1);
        assertThat(wrong.code()).isEqualTo(1);
        assertThat(wrong.err()).contains("belongs to array 'md0', not 'md9'");
        Result missing = run(
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                dir.resolve("nope").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).startsWith("clustermd node: ").contains("nope");
    }

    @Test
    void joinsWritesLogsEveryAcknowledgedWriteAndLeavesCleanlyOnSigterm() throws Exception {
        List<Path> legs = array("md0");
        Path acks = dir.resolve("acks");
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
                            "--workload",
                            "4M:8M",
                            "--ack-log",
                            acks.toString(),
                            legs.get(0).toString(),
                            legs.get(1).toString()));
            process = new ProcessBuilder(cmd)
                    .redirectError(dir.resolve("node.log").toFile())
                    .start();
            List<String> lines = new CopyOnWriteArrayList<>();
            Thread reader = CliHarness.lineReader(process, lines);
            reader.start();
            CliHarness.waitForLine(process, lines, l -> l.startsWith("writing ["), Timing.seconds(60));
            assertThat(lines)
                    .as("stdout; log: %s", Files.readString(dir.resolve("node.log")))
                    .anyMatch(l -> l.startsWith("joined slot 0 of 2 as solo (cluster c1); md0: 2 legs"))
                    .contains("writing [4194304, 12582912) as writer 1");
            Thread.sleep(1500);
            process.toHandle().destroy(); // SIGTERM; Process.destroy() would also close our end of its stdout
            assertThat(process.waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                    .isTrue();
            reader.join(Timing.millis(10_000));
            assertThat(process.exitValue())
                    .as("exit; log: %s", Files.readString(dir.resolve("node.log")))
                    .isZero();
            assertThat(lines)
                    .as("stdout; log: %s", Files.readString(dir.resolve("node.log")))
                    .contains("left the cluster");
            String stopping = lines.stream()
                    .filter(l -> l.startsWith("stopping (SIGTERM): "))
                    .findFirst()
                    .orElseThrow();
            long acked = Long.parseLong(stopping.replaceAll("\\D+(\\d+) writes acknowledged", "$1"));
            assertThat(acked).isPositive();

            AckLog.Contents log = AckLog.read(acks);
            assertThat(log.writer()).isEqualTo(1);
            assertThat(log.entries())
                    .as("every acknowledged write is in the log")
                    .hasSize((int) acked);
            try (Raid1Array check = Raid1Array.open(
                    legs, ArrayOptions.builder().name("check").startFrozen(true).build())) {
                AckVerifier.Result r = AckVerifier.verify(check, "solo", log, false);
                assertThat(r.problems()).isEmpty();
                assertThat(r.blocks()).isPositive();
            }
        }
        ExamineReport r = Examiner.examine(legs.get(0));
        assertThat(r.toText()).contains("State : clean");
        assertThat(r.bitmap().orElseThrow().slots())
                .extracting(SlotReport::dirty)
                .as("a graceful stop cleans the bitmap")
                .containsOnly(0L);
    }
}
