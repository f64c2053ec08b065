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
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.testkit.Timing;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code manage --add / --grow --raid-devices / --fail / --remove / --re-add} on a clustered array whose nodes run with
 * {@code node --scan GLOB} (separate JVMs, a real ZooKeeper, temp leg files): every node ends
 * with the same legs, and the legs end identical.
 */
class DeviceVerbsTest {
    @TempDir
    Path dir;

    @Test
    void addGrowFailRemoveAndReAddThroughManageReachEveryNode() throws Exception {
        Tools.require("jq", "jq"); // reads --json
        List<Path> legs = CliHarness.legs(dir, 3, 24L << 20);
        Result c =
                run(CliHarness.create("md0", legs.get(0).toString(), legs.get(1).toString()));
        assertThat(c.code()).as(c.err()).isZero();
        int pa = NodeProcess.freePort();
        int pb = NodeProcess.freePort();
        String a = "127.0.0.1:" + pa;
        String b = "127.0.0.1:" + pb;
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                        Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
                NodeProcess na = node(zk, "na", pa, legs.subList(0, 2));
                NodeProcess nb = node(zk, "nb", pb, legs.subList(0, 2))) {
            Result add = run("manage", "--jmx", a, "--add", legs.get(2).toString());
            assertThat(add.code()).as(add.err()).isZero();
            assertThat(nb.await(l -> l.matches("new device .* dev_number 2: CONFIRMED .*")))
                    .as("b confirmed the add: %s", nb.lines)
                    .isTrue();
            awaitStates(b, "in_sync,in_sync,spare");

            Result grow = run("manage", "--jmx", b, "--grow", "--raid-devices", "3");
            assertThat(grow.code()).as(grow.err()).isZero();
            awaitStates(a, "in_sync,in_sync,in_sync");
            awaitStates(b, "in_sync,in_sync,in_sync");

            assertThat(run("manage", "--jmx", a, "--fail", legs.get(1).toString())
                            .code())
                    .isZero();
            Result remove = run("manage", "--jmx", a, "--remove", legs.get(1).toString());
            assertThat(remove.code()).as(remove.err()).isZero();
            awaitStates(b, "in_sync,in_sync");
            awaitStates(a, "in_sync,in_sync");

            Result reAdd = run("manage", "--jmx", b, "--re-add", legs.get(1).toString());
            assertThat(reAdd.code()).as(reAdd.err()).isZero();
            awaitStates(a, "in_sync,in_sync,in_sync");
            awaitStates(b, "in_sync,in_sync,in_sync");

            assertThat(na.stop()).as(na.stderr()).isZero();
            assertThat(nb.stop()).as(nb.stderr()).isZero();
        }
        assertThat(Verifier.compareLegs(legs).identical()).isTrue();
    }

    private void awaitStates(String jmx, String states) throws Exception {
        Timing.waitFor(
                jmx + " shows " + states,
                () -> states.equals(Tools.jq(
                        run("detail", "--jmx", jmx, "--json").out(), "[.Devices[].State] | sort | join(\",\")")),
                Timing.seconds(60));
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
                "--scan",
                dir.resolve("leg*").toString()));
        for (Path l : legs) args.add(l.toString());
        NodeProcess p = NodeProcess.start(dir.resolve(name + ".log"), args.toArray(String[]::new));
        assertThat(p.await(l -> l.startsWith("jmx service:jmx:rmi:")))
                .as("%s: %s; log: %s", name, p.lines, p.stderr())
                .isTrue();
        return p;
    }
}
