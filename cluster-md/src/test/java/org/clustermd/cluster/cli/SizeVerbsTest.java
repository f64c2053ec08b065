package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.testkit.Mdadm;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code manage --grow --size} on a clustered array run by two {@code clustermd node} JVMs (a
 * real ZooKeeper, temp leg files): the node asked grows, the other follows at once, both resync
 * the region grown, and examine and mdadm read the new size from the legs.
 */
class SizeVerbsTest {
    @TempDir
    Path dir;

    @Test
    void growSizeMaxReachesEveryNodeAndTheLegs() throws Exception {
        Tools.require("jq", "jq"); // reads --json
        List<Path> legs = CliHarness.legs(dir, 2, 24L << 20);
        Result c = run(CliHarness.create(
                "md0", "--size", "8M", legs.get(0).toString(), legs.get(1).toString()));
        assertThat(c.code()).as(c.err()).isZero();
        int pa = NodeProcess.freePort();
        int pb = NodeProcess.freePort();
        String a = "127.0.0.1:" + pa;
        String b = "127.0.0.1:" + pb;
        String max;
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                        Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
                NodeProcess na = node(zk, "na", pa, legs);
                NodeProcess nb = node(zk, "nb", pb, legs)) {
            assertThat(Tools.jq(run("detail", "--jmx", b, "--json").out(), ".ComponentSize"))
                    .isEqualTo("8192");
            Result grow = run("manage", "--jmx", a, "--grow", "--size", "max");
            assertThat(grow.code()).as(grow.err()).isZero();
            max = Tools.jq(run("detail", "--jmx", a, "--json").out(), ".ComponentSize");
            assertThat(Long.parseLong(max)).isGreaterThan(16 * 1024);
            assertThat(grow.out()).contains("md0: component size set to " + max + "K");
            // CHANGE_CAPACITY was acknowledged by b before the grow returned
            assertThat(Tools.jq(run("detail", "--jmx", b, "--json").out(), ".ComponentSize"))
                    .isEqualTo(max);
            for (String jmx : List.of(a, b)) {
                Timing.waitFor(
                        jmx + " resynced the region grown (its bits set by the grow decayed)",
                        () -> "0"
                                .equals(Tools.jq(
                                        run("detail", "--jmx", jmx, "--json").out(), ".BitmapDirtyChunks")),
                        Timing.seconds(90));
            }
            assertThat(na.stop()).as(na.stderr()).isZero();
            assertThat(nb.stop()).as(nb.stderr()).isZero();
        }
        long sectors = Long.parseLong(max) * 2;
        for (Path leg : legs) {
            Result e = run("examine", leg.toString(), "--json");
            assertThat(e.code()).as(e.err()).isZero();
            assertThat(Tools.jq(e.out(), ".size")).isEqualTo(Long.toString(sectors));
            assertThat(Tools.jq(e.out(), ".bitmap.sync_size")).isEqualTo(Long.toString(sectors));
            Map<String, String> md = Mdadm.fields(Mdadm.examine(leg));
            // mdadm prints Used Dev Size only when it differs from the data area, which max fills
            assertThat(md.get("Array Size")).startsWith(sectors / 2 + " KiB");
            assertThat(md.get("Used Dev Size")).isNull();
        }
        assertThat(Verifier.compareLegs(legs).identical()).isTrue();
    }

    private NodeProcess node(EmbeddedZooKeeper zk, String name, int jmxPort, List<Path> legs) throws Exception {
        List<String> args = new ArrayList<>(List.of(
                "--name",
                "md0",
                "--zk",
                zk.connectString(),
                "--node-name",
                name,
                "--session-timeout",
                Long.toString(Timing.scaled(Duration.ofSeconds(8)).toMillis()),
                "--jmx-port",
                Integer.toString(jmxPort),
                "--jmx-insecure-localhost",
                "--sync-speed-max",
                "900000"));
        for (Path l : legs) args.add(l.toString());
        NodeProcess p = NodeProcess.start(dir.resolve(name + ".log"), args.toArray(String[]::new));
        assertThat(p.await(l -> l.startsWith("jmx service:jmx:rmi:")))
                .as("%s: %s; log: %s", name, p.lines, p.stderr())
                .isTrue();
        return p;
    }
}
