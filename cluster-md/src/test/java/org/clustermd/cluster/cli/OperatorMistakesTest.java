package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.create;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.admin.ExamineReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.sb.SuperblockFormatException;
import org.clustermd.testkit.LoopDevice;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9's everyday operator mistakes, on real files, loop devices and a real ZooKeeper: none
 * of them may cost data (create over an array in use, a partial create, one leg given twice, a
 * node started on a wrong leg).
 */
class OperatorMistakesTest {
    @TempDir
    Path dir;

    private Path file(String name) throws Exception {
        return CliHarness.file(dir.resolve(name), 24L << 20);
    }

    private static UUID uuid(Path leg) throws Exception {
        return Examiner.examine(leg).superblock().setUuid();
    }

    private static boolean hasSuperblock(Path leg) throws Exception {
        try {
            Examiner.examine(leg);
            return true;
        } catch (SuperblockFormatException e) {
            return false;
        }
    }

    @Test
    void createOverLegsHoldingAnArrayIsRefusedWithoutForceAndLeavesThemAsTheyWere() throws Exception {
        Path l0 = file("l0");
        Path l1 = file("l1");
        assertThat(run(create("md0", l0.toString(), l1.toString())).code()).isZero();
        UUID before = uuid(l0);

        Result again = run(create("md1", l0.toString(), l1.toString()));
        assertThat(again.code()).as(again.err()).isEqualTo(1);
        assertThat(again.err())
                .startsWith("clustermd create: ")
                .contains("appears to be part of array 'md0'")
                .contains("--force")
                .doesNotContain("\n\tat ");
        assertThat(again.err().strip().lines()).hasSize(1);
        assertThat(uuid(l0)).isEqualTo(before);
        assertThat(uuid(l1)).isEqualTo(before);

        Result forced = run(create("md1", "--force", l0.toString(), l1.toString()));
        assertThat(forced.code()).as(forced.err()).isZero();
        assertThat(forced.err()).contains("could not check").contains("--zk");
        assertThat(uuid(l0)).isNotEqualTo(before);
    }

    @Test
    void createWithForceIsRefusedWhileTheArraysLockspaceHasMembers() throws Exception {
        Path l0 = file("l0");
        Path l1 = file("l1");
        assertThat(run(create("md0", l0.toString(), l1.toString())).code()).isZero();
        UUID before = uuid(l0);
        try (EmbeddedZooKeeper zk =
                EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests())) {
            // a node of the array, as ClusterCoordinator joins: the lockspace named by the array uuid
            try (ZkLockManager node = ZkLockManager.builder()
                    .connectString(zk.connectString())
                    .cluster("c1")
                    .nodeName("n1")
                    .sessionTimeout(Duration.ofSeconds(10))
                    .build()) {
                LockSpace ls = node.join(before.toString(), LockSpaceOptions.of(2));
                Result r = run(create("md1", "--force", "--zk", zk.connectString(), l0.toString(), l1.toString()));
                assertThat(r.code()).as(r.err()).isEqualTo(1);
                assertThat(r.err()).contains("in use").contains("n1 (slot 0)").contains("cluster c1");
                assertThat(uuid(l0)).isEqualTo(before);
                assertThat(uuid(l1)).isEqualTo(before);
                ls.close();
            }
            Result r = run(create("md1", "--force", "--zk", zk.connectString(), l0.toString(), l1.toString()));
            assertThat(r.code()).as(r.err()).isZero();
            assertThat(r.err()).doesNotContain("could not check");
            assertThat(uuid(l0)).isNotEqualTo(before);
        }
    }

    @Test
    void createWritesNothingWhenALaterLegCannotBeWritten() throws Exception {
        Path l0 = file("l0");
        Path l1 = file("l1");
        try (LoopDevice roDevice = LoopDevice.attachReadOnly(l1)) {
            Path ro = roDevice.path();
            Result r = run(create("md0", l0.toString(), ro.toString()));
            assertThat(r.code()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).contains(ro.toString()).contains("nothing was written");
            assertThat(hasSuperblock(l0)).as("the first leg was left as it was").isFalse();
        }
    }

    @Test
    void createRefusesABlockDeviceAnotherProgramHoldsExclusively() throws Exception {
        Tools.require("python3", "python3"); // holds a device O_EXCL as md or a mount would
        Path l0 = file("l0");
        Path l1 = file("l1");
        LoopDevice loopDevice = LoopDevice.attach(l1);
        Path loop = loopDevice.path();
        Process holder = null;
        try {
            holder = new ProcessBuilder(
                            "python3",
                            "-c",
                            "import os, sys; os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL); "
                                    + "print('held', flush=True); sys.stdin.read()",
                            loop.toString())
                    .redirectErrorStream(true)
                    .start();
            String first =
                    new java.io.BufferedReader(new java.io.InputStreamReader(holder.getInputStream())).readLine();
            assertThat(first).isEqualTo("held");
            Result r = run(create("md0", l0.toString(), loop.toString()));
            assertThat(r.code()).as(r.err()).isEqualTo(1);
            assertThat(r.err()).contains(loop.toString()).contains("is in use");
            assertThat(hasSuperblock(l0)).isFalse();
        } finally {
            if (holder != null) {
                holder.getOutputStream().close();
                if (!holder.waitFor(Timing.seconds(10).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                    holder.destroyForcibly().waitFor();
            }
            loopDevice.close();
        }
    }

    @Test
    void theSameLegTwiceIsRefusedByCreateHoweverItIsSpelled() throws Exception {
        Path l0 = file("l0");
        Path link = Files.createSymbolicLink(dir.resolve("link"), l0);
        List<String[]> spellings = new ArrayList<>();
        spellings.add(new String[] {l0.toString(), l0.toString()});
        spellings.add(
                new String[] {l0.toString(), dir.resolve(".").resolve("l0").toString()});
        spellings.add(new String[] {link.toString(), l0.toString()});
        // a loop device over the same file is one more spelling, when this run may attach one
        LoopDevice loop = LoopDevice.available() ? LoopDevice.attach(l0) : null;
        try {
            if (loop != null)
                spellings.add(new String[] {l0.toString(), loop.path().toString()});
            for (String[] legs : spellings) {
                Result r = run(create("md0", legs));
                assertThat(r.code())
                        .as("%s: %s", String.join(" ", legs), r.err())
                        .isEqualTo(1);
                assertThat(r.err()).contains("are the same leg");
                assertThat(hasSuperblock(l0)).isFalse();
            }
        } finally {
            if (loop != null) loop.close();
        }
    }

    @Test
    void nodeRefusesTheSameLegTwiceAndAnArrayShortOfALegSayingWhichAndWhyOnStdout() throws Exception {
        Path n0 = file("n0");
        Path n1 = file("n1");
        Path o1 = file("o1");
        Path o0 = file("o0");
        assertThat(run(create("md0", n0.toString(), n1.toString())).code()).isZero();
        assertThat(run(create("md0", o0.toString(), o1.toString())).code()).isZero();
        Path corrupt = dir.resolve("n1-corrupt");
        Files.copy(n1, corrupt);
        try (RandomAccessFile raf = new RandomAccessFile(corrupt.toFile(), "rw")) {
            raf.seek(4096 + 64); // ctime: the checksum no longer matches
            raf.write(0x5a);
        }
        ExamineReport n0Before = Examiner.examine(n0);
        String zk = "127.0.0.1:1"; // never reached: every case is refused before joining

        Result twice = run("node", "--name", "md0", "--zk", zk, "--node-name", "a", n0.toString(), n0.toString());
        assertThat(twice.code()).as(twice.err()).isEqualTo(1);
        assertThat(twice.out()).contains("are the same leg");

        Result other = run("node", "--name", "md0", "--zk", zk, "--node-name", "a", n0.toString(), o1.toString());
        assertThat(other.code()).as(other.err()).isEqualTo(1);
        assertThat(other.out())
                .contains(o1 + ": not used: belongs to another array")
                .contains("--run");
        assertThat(other.err().strip().lines()).hasSize(1);
        assertThat(other.err()).contains("not starting with 1 of its 2 legs");

        Result damaged =
                run("node", "--name", "md0", "--zk", zk, "--node-name", "a", n0.toString(), corrupt.toString());
        assertThat(damaged.code()).isEqualTo(1);
        assertThat(damaged.out()).contains(corrupt + ": not used: ").contains("sb_csum");

        Result alone = run("node", "--name", "md0", "--zk", zk, "--node-name", "a", n0.toString());
        assertThat(alone.code()).isEqualTo(1);
        assertThat(alone.out()).contains("not starting md0 with 1 of its 2 legs");

        ExamineReport n0After = Examiner.examine(n0);
        assertThat(n0After.superblock().events())
                .isEqualTo(n0Before.superblock().events());
        assertThat(n0After.arrayState()).isEqualTo("AA");
    }

    @Test
    void nodeWithRunStartsOnFewerLegsThanTheArrayHadAndRecordsTheOthersAsMissing() throws Exception {
        Path n0 = file("n0");
        Path n1 = file("n1");
        assertThat(run(create("md0", n0.toString(), n1.toString())).code()).isZero();
        Process p = null;
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
                            "a",
                            "--session-timeout",
                            "4000",
                            "--run",
                            "--workload",
                            "0:4M",
                            "--ack-log",
                            dir.resolve("acks").toString(),
                            n0.toString()));
            p = new ProcessBuilder(cmd)
                    .redirectError(dir.resolve("node.err").toFile())
                    .start();
            java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream()));
            List<String> lines = new ArrayList<>();
            for (String l; (l = in.readLine()) != null; ) {
                lines.add(l);
                if (l.startsWith("writing [")) break;
            }
            assertThat(lines)
                    .as("stdout; stderr: %s", Files.readString(dir.resolve("node.err")))
                    .anyMatch(l -> l.startsWith("joined slot 0 of 2 as a (cluster c1); md0: 1 legs"));
            // wait for the first writes to dirty the array: its superblock is rewritten then
            long deadline = System.nanoTime() + Timing.seconds(60).toNanos();
            while (Examiner.examine(n0).superblock().events() == 0 && System.nanoTime() < deadline && p.isAlive()) {
                Thread.sleep(50);
            }
            p.toHandle().destroy(); // SIGTERM
            assertThat(p.waitFor(Timing.seconds(60).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS))
                    .isTrue();
            assertThat(p.exitValue())
                    .as(Files.readString(dir.resolve("node.err")))
                    .isZero();
        } finally {
            if (p != null && p.isAlive())
                p.destroyForcibly().waitFor(Timing.seconds(10).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
        }
        assertThat(Examiner.examine(n0).arrayState())
                .as("what --run costs: the leg left out is recorded as missing")
                .isEqualTo("A.");
    }
}
