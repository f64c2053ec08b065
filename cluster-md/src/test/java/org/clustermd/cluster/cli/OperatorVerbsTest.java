package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** detail, status and manage against node processes (separate JVMs, a real ZooKeeper, temp leg files), with --json and exit codes. */
class OperatorVerbsTest {
    @TempDir
    Path dir;

    private List<Path> array(int files, int raidDevices) throws Exception {
        List<Path> legs = CliHarness.legs(dir, files, 24L << 20);
        List<String> args = new ArrayList<>(List.of(
                "create",
                "--name",
                "md0",
                "--cluster-name",
                "c1",
                "--nodes",
                "2",
                "--raid-devices",
                Integer.toString(raidDevices),
                "--assume-clean",
                "--bitmap-chunk",
                "1M"));
        for (int i = 0; i < raidDevices; i++) args.add(legs.get(i).toString());
        Result c = run(args.toArray(String[]::new));
        assertThat(c.code()).as(c.err()).isZero();
        return legs;
    }

    private NodeProcess node(EmbeddedZooKeeper zk, String name, int jmxPort, List<Path> legs) throws Exception {
        List<String> a = new ArrayList<>(List.of(
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
        for (Path l : legs) a.add(l.toString());
        NodeProcess p = NodeProcess.start(dir.resolve(name + ".log"), a.toArray(String[]::new));
        assertThat(p.await(l -> l.startsWith("jmx service:jmx:rmi:")))
                .as("%s: %s; log: %s", name, p.lines, p.stderr())
                .isTrue();
        return p;
    }

    @Test
    void detailStatusAndManageOnTwoNodes() throws Exception {
        Tools.require("jq", "jq"); // reads --json
        List<Path> legs = array(3, 2);
        List<Path> members = legs.subList(0, 2);
        int pa = NodeProcess.freePort();
        int pb = NodeProcess.freePort();
        String a = "127.0.0.1:" + pa;
        String b = "127.0.0.1:" + pb;
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                        Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
                NodeProcess na = node(zk, "na", pa, members);
                NodeProcess nb = node(zk, "nb", pb, members)) {
            Result detail = run("detail", "--jmx", a, "--json");
            assertThat(detail.code()).as(detail.err()).isZero();
            String j = detail.out();
            assertThat(Tools.jq(j, ".Level")).isEqualTo("raid1");
            assertThat(Tools.jq(j, ".Name")).isEqualTo("md0");
            assertThat(Tools.jq(j, ".RaidDisks")).isEqualTo("2");
            assertThat(Tools.jq(j, ".Degraded")).isEqualTo("0");
            assertThat(Tools.jq(j, ".SyncMax")).isEqualTo("max");
            assertThat(Tools.jq(j, ".SyncSpeedMax")).isEqualTo("900000");
            assertThat(Long.parseLong(Tools.jq(j, ".ComponentSize"))).as("KiB").isBetween(20_000L, 24_576L);
            assertThat(Tools.jq(j, ".Devices | length")).isEqualTo("2");
            assertThat(Tools.jq(j, "[.Devices[].State] | unique | join(\",\")")).isEqualTo("in_sync");
            assertThat(Tools.jq(j, "[.Devices[].Slot] | join(\",\")")).isEqualTo("0,1");
            assertThat(Tools.jq(j, ".Cluster.ClusterName")).isEqualTo("c1");
            assertThat(Tools.jq(j, ".Cluster.Nodes")).isEqualTo("2");
            assertThat(Tools.jq(j, ".Cluster.Members | length")).isEqualTo("2");
            assertThat(Tools.jq(j, ".Cluster.SessionState")).isEqualTo("active");
            assertThat(Tools.jq(j, "[.Cluster.Slot] | .[0] | tostring")).isIn("0", "1");
            Result text = run("detail", "--jmx", b);
            assertThat(text.code()).as(text.err()).isZero();
            assertThat(text.out())
                    .contains("Raid Level : raid1")
                    .contains("Cluster Name : c1")
                    .contains("Raid Devices : 2");

            Result status = run("status", "--jmx", a + "," + b);
            assertThat(status.code()).as(status.err()).isZero();
            assertThat(status.out()
                            .lines()
                            .filter(l -> l.contains("[2/2] [UU]"))
                            .findFirst()
                            .orElseThrow())
                    .as("two nodes side by side on one line")
                    .matches(".*\\[2/2\\] \\[UU\\].*\\|.*\\[2/2\\] \\[UU\\].*");
            assertThat(status.out()).contains("md0 : active raid1 leg1[1] leg0[0]");
            Result sj = run("status", "--jmx", a + "," + b, "--json");
            assertThat(sj.code()).isZero();
            assertThat(Tools.jq(sj.out(), "length")).isEqualTo("2");
            assertThat(Tools.jq(sj.out(), "[.[].Roles] | unique | join(\",\")")).isEqualTo("[UU]");
            assertThat(Tools.jq(sj.out(), "[.[].Slot] | sort | map(tostring) | join(\",\")"))
                    .isEqualTo("0,1");
            Result watch = run("status", "--jmx", a, "--watch", "0.2", "--count", "2");
            assertThat(watch.code()).isZero();
            assertThat(watch.out()
                            .lines()
                            .filter(l -> l.startsWith("Every 0.2s: clustermd status"))
                            .count())
                    .isEqualTo(2);
            int dead = NodeProcess.freePort();
            Result unreachable = run("status", "--jmx", a + ",127.0.0.1:" + dead);
            assertThat(unreachable.code()).as("a node that cannot be read").isEqualTo(1);
            assertThat(unreachable.out())
                    .contains("[UU]")
                    .contains("127.0.0.1:" + dead)
                    .contains("unreadable: cannot reach JMX");

            Result speed = run("manage", "--jmx", a, "--sync-speed-max", "5000");
            assertThat(speed.code()).as(speed.err()).isZero();
            assertThat(speed.out()).contains("md0: sync_speed_max 5000 KiB/s");
            Result badSpeed = run("manage", "--jmx", a, "--sync-speed-min", "-3");
            assertThat(badSpeed.code())
                    .as("refused by the node: %s", badSpeed.err())
                    .isEqualTo(1);
            assertThat(badSpeed.err()).contains("refused");
            assertThat(Tools.jq(run("detail", "--jmx", a, "--json").out(), ".SyncSpeedMax"))
                    .isEqualTo("5000");
            assertThat(Tools.jq(run("detail", "--jmx", b, "--json").out(), ".SyncSpeedMax"))
                    .as("per node")
                    .isEqualTo("900000");

            assertThat(run("manage", "--jmx", a, "--sync-action", "rebuild").code())
                    .isEqualTo(2);
            assertThat(run("manage", "--jmx", a).code()).isEqualTo(2);
            assertThat(run("manage", "--jmx", a, "--fail", "x", "--remove", "x").code())
                    .isEqualTo(2);
            assertThat(run("manage", "--jmx", "nohostport", "--fail", "x").code())
                    .isEqualTo(2);
            assertThat(run("manage", "--jmx", a, "--grow").code()).isEqualTo(2);
            // the array already uses whole legs: max changes nothing; a shrink and more than the legs hold are refused
            String kib = Tools.jq(run("detail", "--jmx", a, "--json").out(), ".ComponentSize");
            Result grow = run("manage", "--jmx", a, "--grow", "--size", "max");
            assertThat(grow.code()).as(grow.err()).isZero();
            assertThat(grow.out()).contains("md0: component size set to " + kib + "K");
            Result shrink = run("manage", "--jmx", a, "--grow", "--size", "4M");
            assertThat(shrink.code()).isEqualTo(1);
            assertThat(shrink.err()).contains("shrinking").contains("refused");
            Result tooBig = run("manage", "--jmx", b, "--grow", "--size", "1G");
            assertThat(tooBig.code()).isEqualTo(1);
            assertThat(tooBig.err()).contains("smallest leg");
            assertThat(Tools.jq(run("detail", "--jmx", b, "--json").out(), ".ComponentSize"))
                    .isEqualTo(kib);
            Result noLeg =
                    run("manage", "--jmx", a, "--fail", dir.resolve("nope").toString());
            assertThat(noLeg.code()).isEqualTo(1);
            assertThat(noLeg.err()).contains("is not a member");

            // adding a leg needs NEWDISK: either it is refused and nothing changed, or it is done and shows
            Result add = run("manage", "--jmx", a, "--add", legs.get(2).toString());
            String after = run("detail", "--jmx", a, "--json").out();
            if (add.code() == 0) {
                assertThat(Tools.jq(after, ".Devices | length")).isEqualTo("3");
            } else {
                assertThat(add.code()).isEqualTo(1);
                assertThat(add.err()).contains("refused");
                assertThat(Tools.jq(after, ".Devices | length"))
                        .as("a refused add changes nothing")
                        .isEqualTo("2");
            }

            assertThat(na.stop()).as(na.stderr()).isZero();
            assertThat(nb.stop()).as(nb.stderr()).isZero();
        }
    }

    @Test
    void helpHasAnExampleAndNodeRefusesJmxWithoutSecurityChoice() {
        for (String verb : List.of("detail", "status", "manage")) {
            Result h = run(verb, "--help");
            assertThat(h.code()).isZero();
            assertThat(h.out()).contains("Example").contains("clustermd " + verb + " --jmx");
        }
        String[][] usage = {
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--jmx-port", "9999", "x"},
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--jmx-insecure-localhost", "x"},
            {
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--jmx-port",
                "9999",
                "--jmx-insecure-localhost",
                "--jmx-config",
                "f",
                "x"
            },
            {"node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--sync-speed-min", "0", "x"},
            {
                "node",
                "--name",
                "md0",
                "--zk",
                "127.0.0.1:1",
                "--node-name",
                "n",
                "--sync-speed-min",
                "9",
                "--sync-speed-max",
                "8",
                "x"
            },
            {"detail"},
            {"status", "--jmx", "127.0.0.1:70000"},
            {"status", "--jmx", "127.0.0.1:1", "--jmx-user", "monitor"},
            {"detail", "--jmx", "127.0.0.1:1", "--jmx-password-file", "pw"},
        };
        for (String[] a : usage) {
            Result r = run(a);
            assertThat(r.code()).as("%s -> %s", String.join(" ", a), r.err()).isEqualTo(2);
        }
    }
}
