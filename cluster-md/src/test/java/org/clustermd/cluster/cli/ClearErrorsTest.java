package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.testkit.LoopDevice;
import org.clustermd.testkit.Mdadm;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * Issue 9's "Clear errors": a bad value is a one-line usage error (exit 2), a failed operation
 * one line naming what failed (exit 1), no stack trace; examine prints what mdadm --examine
 * prints, a damaged leg included; --help wraps at word boundaries with every verb whole.
 */
class ClearErrorsTest {
    @TempDir
    Path dir;

    private Process process;

    @AfterEach
    void killLeftover() throws InterruptedException {
        CliHarness.killLeftover(process);
    }

    private Path file(String name) throws Exception {
        return CliHarness.file(dir.resolve(name), 24L << 20);
    }

    /** A fresh 2-leg array md0 in cluster c1 with 1 MiB chunks; its legs. */
    private List<Path> array() throws Exception {
        Path l0 = file("l0");
        Path l1 = file("l1");
        Result c = run(CliHarness.create("md0", l0.toString(), l1.toString()));
        assertThat(c.code()).as(c.err()).isZero();
        return List.of(l0, l1);
    }

    private static void poke(Path f, long offset, byte... bytes) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.seek(offset);
            raf.write(bytes);
        }
    }

    // the v1.2 superblock is at 4096; the bitmap 8 sectors after it, one 4 KiB slot per node for these small arrays
    private static final long SB = 4096;
    private static final long SLOT0 = 8192;
    private static final long SLOT1 = 8192 + 4096;

    private static void assertOneLine(Result r) {
        assertThat(r.err().strip().lines()).as(r.err()).hasSize(1);
        assertThat(r.err()).doesNotContain("\tat ").doesNotContain("Usage:");
    }

    @Test
    void badCreateValuesAreOneLineUsageErrorsAndARaid1OfOneLegNeedsForce() throws Exception {
        Path l0 = file("l0");
        Path l1 = file("l1");
        String[][] bad = {
            {"--bitmap-chunk", "1T", "--cluster-name", "c"},
            {"--cluster-name", ""},
            {"--cluster-name", "c", "--size", "0"},
        };
        for (String[] b : bad) {
            List<String> a = new ArrayList<>(List.of("create", "--name", "md0", "--nodes", "2"));
            a.addAll(List.of(b));
            a.addAll(List.of(l0.toString(), l1.toString()));
            Result r = run(a.toArray(String[]::new));
            assertThat(r.code()).as("%s -> %s", a, r.err()).isEqualTo(2);
            assertOneLine(r);
            assertThat(r.err()).startsWith("clustermd create: ");
        }
        assertThat(run(
                                "create",
                                "--name",
                                "md0",
                                "--nodes",
                                "2",
                                "--cluster-name",
                                "c",
                                "--bitmap-chunk",
                                "1T",
                                l0.toString(),
                                l1.toString())
                        .err())
                .contains("--bitmap-chunk")
                .contains("32-bit");
        assertThat(run(
                                "create",
                                "--name",
                                "md0",
                                "--nodes",
                                "2",
                                "--cluster-name",
                                "c",
                                "--size",
                                "0",
                                l0.toString(),
                                l1.toString())
                        .err())
                .contains("invalid size: 0");

        Result one = run("create", "--name", "md0", "--nodes", "2", "--cluster-name", "c", l0.toString());
        assertThat(one.code()).isEqualTo(2);
        assertThat(one.err()).contains("--force");
        Result forced = run("create", "--name", "md0", "--nodes", "2", "--cluster-name", "c", "--force", l0.toString());
        assertThat(forced.code()).as(forced.err()).isZero();
    }

    @Test
    void examineNamesADirectoryAsADirectory() throws Exception {
        Path d = Files.createDirectory(dir.resolve("adir"));
        Result r = run("examine", d.toString());
        assertThat(r.code()).isEqualTo(1);
        assertOneLine(r);
        assertThat(r.err()).contains("is a directory").doesNotContain("O_DIRECT");
    }

    @Test
    void examinePrintsALegWithABadChecksumWholeWithTheChecksumItExpectedAsMdadmDoes() throws Exception {
        Path l0 = array().get(0);
        String good = run("examine", l0.toString()).out();
        assertThat(good).containsPattern("Checksum : [0-9a-f]+ - correct");
        poke(l0, SB + 64, (byte) 0x5a); // ctime
        Result r = run("examine", l0.toString());
        assertThat(r.code()).isEqualTo(1);
        assertOneLine(r);
        assertThat(r.err()).contains("sb_csum");
        Map<String, String> f = Mdadm.fields(r.out());
        assertThat(f.get("Checksum")).matches("[0-9a-f]+ - expected [0-9a-f]+");
        assertThat(f).containsKeys("Array UUID", "Events", "Device Role", "Array State", "Node Slot");
        if (Tools.have("mdadm")) {
            Map<String, String> md = Mdadm.fields(Mdadm.examine(l0));
            assertThat(f.get("Checksum")).isEqualTo(md.get("Checksum"));
        }
    }

    @Test
    void examineReportsABitmapWhoseUuidIsNotTheArraysAsInvalid() throws Exception {
        Path l0 = array().get(0);
        poke(l0, SLOT0 + 8, (byte) 0xff);
        poke(l0, SLOT1 + 8, (byte) 0xff); // both slots agree with each other, not with the array
        Result r = run("examine", l0.toString());
        assertThat(r.code()).isEqualTo(1);
        assertOneLine(r);
        assertThat(r.err()).contains("bitmap").contains("is not the array's");
        assertThat(r.out()).contains("State : invalid: uuid ff").contains("md ignores this bitmap");
    }

    @Test
    void examineReportsASlotWhoseChunkSizeDiffersFromSlot0AsInvalid() throws Exception {
        Path l0 = array().get(0);
        poke(l0, SLOT1 + 52, (byte) 0, (byte) 0, (byte) 0x20, (byte) 0); // 2 MiB, little-endian
        Result r = run("examine", l0.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("slot 1").contains("chunksize 2097152 differs from slot 0's 1048576");
        assertThat(Mdadm.slotSections(r.out()).get(1).get("State")).startsWith("invalid: chunksize");
        assertThat(Mdadm.slotSections(r.out()).get(0).get("State")).isEqualTo("OK");
    }

    @Test
    void examineNamesSyncSizeWhenItIsWrongNotTheMagicOfAMisplacedSlot() throws Exception {
        List<Path> legs = array();
        Path huge = legs.get(0);
        Path doubled = legs.get(1);
        poke(
                huge,
                SLOT0 + 40,
                (byte) 0xff,
                (byte) 0xff,
                (byte) 0xff,
                (byte) 0xff,
                (byte) 0xff,
                (byte) 0xff,
                (byte) 0,
                (byte) 0);
        Result r = run("examine", huge.toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("sync_size").doesNotContain("magic");
        // twice the array: slot 1 would be looked for 8 KiB on, where there is no bitmap
        poke(doubled, SLOT0 + 40, (byte) 0x00, (byte) 0x70, (byte) 0x01, (byte) 0, (byte) 0, (byte) 0, (byte) 0, (byte)
                0);
        Result d = run("examine", doubled.toString());
        assertThat(d.code()).isEqualTo(1);
        assertThat(d.err())
                .contains("sync_size 94208 sectors is more than the leg's data_size 47104")
                .doesNotContain("magic");
    }

    @Test
    void examinePrintsUnusedSpaceHumanSizesTheBitmapUuidAndEachSlotsStateAsMdadmDoes() throws Exception {
        Tools.require("mdadm", "mdadm");
        Path l0 = array().get(0);
        Result r = run("examine", l0.toString());
        assertThat(r.code()).as(r.err()).isZero();
        Map<String, String> ours = Mdadm.fields(r.out());
        Map<String, String> md = Mdadm.fields(Mdadm.examine(l0));
        for (String k : List.of("Unused Space", "Avail Dev Size", "Array Size", "Checksum")) {
            assertThat(ours.get(k)).as(k).isEqualTo(md.get(k));
        }
        try (LoopDevice loop = LoopDevice.attach(l0)) {
            String x = Mdadm.examineBitmap(loop.path());
            String bitmap = r.out().substring(r.out().indexOf("Bitmap:"));
            assertThat(Mdadm.fields(bitmap).get("UUID"))
                    .isEqualTo(Mdadm.fields(x).get("UUID"));
            assertThat(Mdadm.fields(bitmap).get("Sync Size"))
                    .endsWith(Mdadm.fields(x)
                            .get("Sync Size")
                            .substring(Mdadm.fields(x).get("Sync Size").indexOf(' ')));
            List<Map<String, String>> ourSlots = Mdadm.slotSections(r.out());
            List<Map<String, String>> mdSlots = Mdadm.slotSections(x);
            assertThat(ourSlots).hasSameSizeAs(mdSlots);
            for (int s = 0; s < mdSlots.size(); s++)
                assertThat(ourSlots.get(s).get("State"))
                        .isEqualTo(mdSlots.get(s).get("State"));
        }
    }

    @Test
    void badZkConnectStringsAreUsageErrors() throws Exception {
        List<Path> legs = array();
        for (String zk : new String[] {"garbage::x", "", "host:0", "host:99999", "a:1,,b:2"}) {
            Result r = run(
                    "node",
                    "--name",
                    "md0",
                    "--zk",
                    zk,
                    "--node-name",
                    "n",
                    legs.get(0).toString(),
                    legs.get(1).toString());
            assertThat(r.code()).as("--zk '%s' -> %s", zk, r.err()).isEqualTo(2);
            assertOneLine(r);
            assertThat(r.err()).contains("--zk");
        }
    }

    @Test
    void aCorruptedUuidInBitmapSlot0IsBlamedOnSlot0() throws Exception {
        List<Path> legs = array();
        for (Path l : legs) poke(l, SLOT0 + 8, (byte) 0xff);
        Result r = run(
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--session-timeout",
                "2000",
                legs.get(0).toString(),
                legs.get(1).toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("slot 0").doesNotContain("slot 1").doesNotContain("slot1");
    }

    @Test
    void aNodeNamesSyncSizeWhenSlot0sIsBeyondTheDataArea() throws Exception {
        List<Path> legs = array();
        for (Path l : legs) poke(l, SLOT0 + 40, (byte) 0x00, (byte) 0x70, (byte) 0x01, (byte) 0);
        Result r = run(
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--session-timeout",
                "2000",
                legs.get(0).toString(),
                legs.get(1).toString());
        assertThat(r.code()).isEqualTo(1);
        assertThat(r.err()).contains("sync_size 94208").doesNotContain("magic");
    }

    /** The node as an operator runs it: its own JVM, so its stderr (logs included) is what an operator sees. */
    private Process node(String... args) throws Exception {
        // the CLI's own logging, as bin/clustermd runs it, not the logback-test.xml a test jar brings along
        List<String> cmd = CliHarness.nodeCommand(List.of("-Dlogback.configurationFile=logback.xml"), List.of(args));
        process = new ProcessBuilder(cmd)
                .redirectError(dir.resolve("node.err").toFile())
                .start();
        return process;
    }

    @Test
    void anUnreachableZooKeeperIsOneLineOnStderr() throws Exception {
        List<Path> legs = array();
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        Process p = node(
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:" + port,
                "--node-name",
                "n",
                "--session-timeout",
                "2000",
                legs.get(0).toString(),
                legs.get(1).toString());
        p.getOutputStream().close();
        p.getInputStream().readAllBytes();
        assertThat(p.waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        String err = Files.readString(dir.resolve("node.err"));
        assertThat(p.exitValue()).as(err).isEqualTo(1);
        assertThat(err.strip().lines()).as(err).hasSize(1);
        assertThat(err)
                .startsWith("clustermd node: ")
                .contains("127.0.0.1:" + port)
                .doesNotContain("Exception");
    }

    @Test
    void theSessionTimeoutZooKeeperGrantsIsPrintedWhenItIsNotTheOneAsked() throws Exception {
        List<Path> legs = array();
        ZooKeeperSettings settings = ZooKeeperSettings.forTests().toBuilder()
                .sessionTimeoutRangeMs(3000, 60_000)
                .build();
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, settings)) {
            Process p = node(
                    "--name",
                    "md0",
                    "--zk",
                    zk.connectString(),
                    "--node-name",
                    "n",
                    "--session-timeout",
                    "2000",
                    legs.get(0).toString(),
                    legs.get(1).toString());
            List<String> lines = new CopyOnWriteArrayList<>();
            Thread reader = CliHarness.lineReader(p, lines);
            reader.start();
            CliHarness.waitForLine(p, lines, l -> l.startsWith("ZooKeeper granted"), Timing.seconds(60));
            p.toHandle().destroy();
            assertThat(p.waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                    .isTrue();
            reader.join(Timing.millis(10_000));
            assertThat(lines)
                    .as("stdout; stderr: %s", Files.readString(dir.resolve("node.err")))
                    .contains(
                            "ZooKeeper granted a session timeout of 3000 ms, not the 2000 ms asked (its servers allow 2 to 20 "
                                    + "ticks): a dead node is recovered after 3000 ms");
        }
    }

    @Test
    void helpWrapsAtWordBoundariesAndShowsEveryVerbsDescriptionWhole() {
        Result top = run("--help");
        assertThat(top.code()).isZero();
        String flat = top.out().replaceAll("\\s+", " ");
        CommandLine cli =
                ClusterMdMain.commandLine(new PrintWriter(new StringWriter()), new PrintWriter(new StringWriter()));
        for (Map.Entry<String, CommandLine> verb : cli.getSubcommands().entrySet()) {
            String description = String.join(
                            " ", verb.getValue().getCommandSpec().usageMessage().description())
                    .replaceAll("\\s+", " ");
            assertThat(flat)
                    .as("the verb list shows %s's description whole", verb.getKey())
                    .contains(description);
            Result help = run(verb.getKey(), "--help");
            assertThat(help.out().replaceAll("\\s+", " "))
                    .as(verb.getKey() + " --help")
                    .contains(description);
            for (String line : help.out().split("\n"))
                assertThat(line.length()).as(line).isLessThanOrEqualTo(80);
        }
    }
}
