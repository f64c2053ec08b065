package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.verify.Verifier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The resync owner stops (mdadm's 03r1_switch-resync, docs/md-cluster-protocol.md §c.5): three
 * {@code clustermd node} JVMs on one array; a writer is killed with SIGKILL, one survivor takes
 * its dirty chunks and resyncs them slowly, and is stopped with SIGTERM in the middle; the other
 * survivor gets its BITMAP_NEEDS_SYNC, takes its slot over and finishes the resync. Every write
 * the killed node acknowledged is on the legs, and the legs end identical.
 */
class NodeHandOverTest {
    private static final Pattern COPIED = Pattern.compile("copied (\\d+) dirty chunks from slot (\\d+)");
    private static final Pattern DONE = Pattern.compile("resync done: copied (\\d+) bytes.*");

    @TempDir
    Path dir;

    private NodeProcess closeLater;

    @AfterEach
    void killLeftover() throws InterruptedException {
        if (closeLater != null) closeLater.close();
    }

    @Test
    void aResyncOwnerStoppedBySigtermHandsItsResyncToTheOtherNode() throws Exception {
        List<Path> legs = CliHarness.legs(dir, 2, 40L << 20);
        Result c = CliHarness.run(
                "create",
                "--name",
                "md0",
                "--cluster-name",
                "c1",
                "--nodes",
                "3",
                "--assume-clean",
                "--bitmap-chunk",
                "1M",
                legs.get(0).toString(),
                legs.get(1).toString());
        assertThat(c.code()).as(c.err()).isZero();
        Path acks = dir.resolve("acks");
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                        Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
                NodeProcess a = node(zk, "node-a", "--sync-speed-max", "1024")) {
            // one JVM starting at a time: on a loaded machine a joiner's lease may lapse otherwise
            assertThat(a.await(l -> l.startsWith("joined slot"))).as(a.stderr()).isTrue();
            NodeProcess b = node(zk, "node-b", "--sync-speed-max", "1024");
            closeLater = b;
            assertThat(b.await(l -> l.startsWith("joined slot"))).as(b.stderr()).isTrue();
            try (NodeProcess victim = node(zk, "node-v", "--workload", "8M:6M", "--ack-log", acks.toString())) {
                assertThat(victim.await(l -> l.startsWith("writing [")))
                        .as(victim.stderr())
                        .isTrue();
                Thread.sleep(1000); // its writes dirty its slot
                victim.process.destroyForcibly(); // SIGKILL
                victim.process.waitFor();
            }
            assertThat(a.await(l -> l.startsWith("recover_done")) && b.await(l -> l.startsWith("recover_done")))
                    .isTrue();
            NodeProcess owner = null;
            NodeProcess peer = null;
            long ownerChunks = 0;
            long deadline = System.nanoTime() + 90_000_000_000L;
            while (owner == null && System.nanoTime() < deadline) {
                for (NodeProcess n : List.of(a, b)) {
                    Optional<Matcher> m = copied(n);
                    if (m.isPresent()) {
                        owner = n;
                        peer = n == a ? b : a;
                        ownerChunks = Long.parseLong(m.get().group(1));
                    }
                }
                Thread.sleep(20);
            }
            assertThat(owner)
                    .as("a survivor copied the dead node's dirty chunks")
                    .isNotNull();
            NodeProcess resyncing = owner;
            assertThat(resyncing.await(l -> l.startsWith("resync started"))).isTrue();

            assertThat(owner.stop()).as(owner.stderr()).isZero();
            assertThat(owner.lines).as("stopped in the middle").noneMatch(l -> l.startsWith("resync done"));

            NodeProcess taker = peer;
            NodeProcess stopped = owner;
            assertThat(taker.await(l -> l.startsWith("bitmap_needs_sync from slot")))
                    .as(() -> taker.stderr() + "\n--- the stopped owner's log ---\n" + stopped.stderr())
                    .isTrue();
            assertThat(taker.await(l -> COPIED.matcher(l).find())).isTrue();
            long handed = Long.parseLong(copied(taker).orElseThrow().group(1));
            assertThat(handed).isBetween(1L, ownerChunks);
            assertThat(taker.await(l -> DONE.matcher(l).matches()))
                    .as(taker.stderr())
                    .isTrue();
            long bytes = taker.lines.stream()
                    .map(DONE::matcher)
                    .filter(Matcher::matches)
                    .mapToLong(m -> Long.parseLong(m.group(1)))
                    .findFirst()
                    .orElseThrow();
            assertThat(bytes).as("exactly the chunks handed over").isEqualTo(handed << 20);
            assertThat(taker.stop()).as(taker.stderr()).isZero();
        }
        assertThat(Verifier.compareLegs(legs).identical()).isTrue();
        AckLog.Contents log = AckLog.read(acks);
        assertThat(log.entries()).isNotEmpty();
        try (Raid1Array check = Raid1Array.open(
                legs, ArrayOptions.builder().name("check").startFrozen(true).build())) {
            AckVerifier.Result r = AckVerifier.verify(check, "node-v", log, true);
            assertThat(r.problems())
                    .as("every write the killed node acknowledged is on the legs")
                    .isEmpty();
        }
    }

    private NodeProcess node(EmbeddedZooKeeper zk, String name, String... more) throws Exception {
        List<String> args = new java.util.ArrayList<>(
                List.of("--name", "md0", "--zk", zk.connectString(), "--node-name", name, "--session-timeout", "8000"));
        args.addAll(List.of(more));
        args.add(dir.resolve("leg0").toString());
        args.add(dir.resolve("leg1").toString());
        return NodeProcess.start(dir.resolve(name + ".log"), args.toArray(String[]::new));
    }

    /** The first "copied N dirty chunks from slot S" line of {@code n}. */
    private static Optional<Matcher> copied(NodeProcess n) {
        return n.lines.stream().map(COPIED::matcher).filter(Matcher::find).findFirst();
    }
}
