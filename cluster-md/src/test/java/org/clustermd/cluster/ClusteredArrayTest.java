package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.AttributeChange;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedding API on one node (standalone) and on two nodes of a cluster (a real ZooKeeper, shared leg files). */
class ClusteredArrayTest {
    @TempDir
    Path dir;

    /** What one listener heard, array and cluster events alike. */
    static final class Heard implements ClusteredArrayListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void attributeChanged(AttributeChange c) {
            events.add(c.attribute() + "=" + c.newValue()
                    + c.device().map(d -> "@" + d).orElse(""));
        }

        @Override
        public void membershipChanged(MembershipState from, MembershipState to) {
            events.add("membership " + to);
        }

        @Override
        public void recoverDone(java.util.Set<NodeSlot> members) {
            events.add("recover_done");
        }
    }

    private List<Path> legs(int files, String cluster, int nodes) throws Exception {
        List<Path> legs = new ArrayList<>();
        for (int i = 0; i < files; i++) {
            Path f = dir.resolve("leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(16L << 20);
            }
            legs.add(f);
        }
        CreateOptions.Builder b =
                CreateOptions.builder("md0").nodes(nodes).bitmapChunk(1 << 20).assumeClean(true);
        if (cluster != null) b.clusterName(cluster);
        ArrayCreator.create(b.build(), legs.subList(0, 2));
        return legs;
    }

    private static ByteBuffer pattern(int size, int seed) {
        ByteBuffer b = AlignedBuffers.allocate(size);
        for (int i = 0; i < size; i++) b.put((byte) (i * 31 + seed));
        return b.flip();
    }

    @Test
    void builderRefusesMissingOrContradictorySettingsAndAForeignArray() throws Exception {
        List<Path> legs = legs(2, null, 1);
        assertThatThrownBy(
                        () -> ClusteredArray.builder().legs(legs).standalone().open())
                .hasMessageContaining("name is required");
        assertThatThrownBy(
                        () -> ClusteredArray.builder().name("md0").standalone().open())
                .hasMessageContaining("at least one leg");
        assertThatThrownBy(() -> ClusteredArray.builder().name("md0").legs(legs).open())
                .hasMessageContaining("neither");
        assertThatThrownBy(() -> ClusteredArray.builder()
                        .name("md0")
                        .legs(legs)
                        .standalone()
                        .zooKeeper("127.0.0.1:1")
                        .open())
                .hasMessageContaining("both");
        assertThatThrownBy(() -> ClusteredArray.builder()
                        .name("md0")
                        .legs(legs)
                        .zooKeeper("127.0.0.1:1")
                        .open())
                .hasMessageContaining("nodeName is required");
        assertThatThrownBy(() -> ClusteredArray.builder()
                        .name("md7")
                        .legs(legs)
                        .standalone()
                        .open())
                .isInstanceOf(Raid1Exception.class)
                .hasMessageContaining("belongs to array 'md0', not 'md7'");
    }

    @Test
    void oneNodeStandaloneDataPathAdministrationAndClose() throws Exception {
        List<Path> legs = legs(2, null, 1);
        Heard heard = new Heard();
        ClusteredArray md0 = ClusteredArray.builder()
                .name("md0")
                .legs(legs)
                .standalone()
                .syncSpeedMax(123_456)
                .listener(heard)
                .open();
        try {
            assertThat(md0.clustered()).isFalse();
            assertThat(md0.slot()).isZero();
            assertThat(md0.syncSpeedMax()).isEqualTo(123_456);
            int bs = md0.logicalBlockSize();
            md0.write(0, pattern(8192, 1), true);
            md0.writeAsync(8192, pattern(4096, 2)).get(30, TimeUnit.SECONDS);
            md0.flushAsync().get(30, TimeUnit.SECONDS);
            md0.flush();
            ByteBuffer back = AlignedBuffers.allocate(12288);
            md0.readAsync(0, back).get(30, TimeUnit.SECONDS);
            back.clear(); // whether or not the read moved the position, the whole buffer holds the data
            ByteBuffer expect = AlignedBuffers.allocate(12288);
            expect.put(pattern(8192, 1)).put(pattern(4096, 2)).flip();
            assertThat(back).isEqualTo(expect);

            assertThatThrownBy(() -> md0.write(bs / 2, pattern(bs, 3)))
                    .isInstanceOf(Raid1Exception.class)
                    .extracting(e -> ((Raid1Exception) e).code())
                    .isEqualTo(Raid1Exception.Code.UNALIGNED);
            assertThatThrownBy(() -> md0.write(md0.size(), pattern(bs, 3)))
                    .isInstanceOf(Raid1Exception.class)
                    .extracting(e -> ((Raid1Exception) e).code())
                    .isEqualTo(Raid1Exception.Code.OUT_OF_RANGE);
            assertThatThrownBy(() ->
                            md0.writeAsync(md0.size() - bs, pattern(2 * bs, 3)).get())
                    .isInstanceOf(ExecutionException.class)
                    .hasCauseInstanceOf(Raid1Exception.class);
            assertThatThrownBy(() -> md0.discard(0, bs + 1)).isInstanceOf(Raid1Exception.class);
            md0.discard(0, bs);
            ByteBuffer still = AlignedBuffers.allocate(8192);
            md0.read(0, still);
            assertThat(still.clear())
                    .as("a refused write wrote nothing, a discard zeroes nothing")
                    .isEqualTo(pattern(8192, 1));

            md0.failDevice(legs.get(1).toString());
            assertThat(md0.engine().degraded()).isEqualTo(1);
            assertThatThrownBy(() -> md0.failDevice(legs.get(0).toString()))
                    .as("the last in-sync leg")
                    .isInstanceOf(Raid1Exception.class);
            md0.write(0, pattern(4096, 9), false);
            md0.reAddDevice(legs.get(1).toString());
            md0.engine().awaitSyncIdle(Duration.ofSeconds(60));
            assertThat(md0.engine().degraded()).isZero();
            Timing.waitFor(
                    "the listener heard the leg fail and come back",
                    () -> heard.events.contains("State=faulty@" + legs.get(1)) && heard.events.contains("Degraded=0"),
                    Duration.ofSeconds(20));

            assertThatThrownBy(() -> md0.syncSpeedMin(-1)).isInstanceOf(Raid1Exception.class);
            md0.syncAction(SyncAction.CHECK);
            md0.engine().awaitSyncIdle(Duration.ofSeconds(60));
            assertThat(md0.engine().mismatchCount())
                    .as("the re-add made the legs identical")
                    .isZero();
        } finally {
            md0.close();
        }
        md0.close();
        assertThatThrownBy(() -> md0.read(0, AlignedBuffers.allocate(4096)))
                .isInstanceOf(Raid1Exception.class)
                .extracting(e -> ((Raid1Exception) e).code())
                .isEqualTo(Raid1Exception.Code.CLOSED);
    }

    @Test
    void twoNodesOfAClusterShareTheLegsAndLeaveGracefully() throws Exception {
        List<Path> legs = legs(3, "c1", 2);
        List<Path> members = legs.subList(0, 2);
        Duration session = Timing.scaled(Duration.ofSeconds(6));
        try (EmbeddedZooKeeper zk =
                EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests())) {
            Heard heardA = new Heard();
            try (ClusteredArray a = ClusteredArray.builder()
                    .name("md0")
                    .legs(members)
                    .zooKeeper(zk)
                    .nodeName("a")
                    .sessionTimeout(session)
                    .listener(heardA)
                    .open()) {
                assertThat(a.clustered()).isTrue();
                assertThat(heardA.events).contains("membership ACTIVE");
                ClusteredArray b = ClusteredArray.builder()
                        .name("md0")
                        .legs(members)
                        .zooKeeper(zk.connectString())
                        .nodeName("b")
                        .sessionTimeout(session)
                        .open();
                try {
                    assertThat(List.of(a.slot(), b.slot())).containsExactlyInAnyOrder(0, 1);
                    Timing.waitFor(
                            "a sees both members",
                            () -> a.coordinator().orElseThrow().members().size() == 2,
                            Duration.ofSeconds(30));
                    // each node writes its own region (no RESYNCING yet) and reads the other's
                    a.write(0, pattern(65536, 4), true);
                    b.write(1 << 20, pattern(65536, 5), true);
                    ByteBuffer fromA = AlignedBuffers.allocate(65536);
                    b.read(0, fromA);
                    assertThat(fromA.clear()).isEqualTo(pattern(65536, 4));
                    ByteBuffer fromB = AlignedBuffers.allocate(65536);
                    a.readAsync(1 << 20, fromB).get(30, TimeUnit.SECONDS);
                    assertThat(fromB.clear()).isEqualTo(pattern(65536, 5));

                    // adding a leg to a clustered array needs NEWDISK: refused with a clear error and nothing changed,
                    // or done
                    int before = a.engine().mirrors().mirrors().size();
                    try {
                        a.addDevice(legs.get(2));
                        assertThat(a.engine().mirrors().mirrors()).hasSize(before + 1);
                    } catch (Raid1Exception e) {
                        assertThat(e.code()).isEqualTo(Raid1Exception.Code.CLUSTER);
                        assertThat(e.getMessage()).contains("NEWDISK");
                        assertThat(a.engine().mirrors().mirrors())
                                .as("a refused add changes nothing")
                                .hasSize(before);
                    }
                } finally {
                    b.close();
                }
                Timing.waitFor(
                        "b's graceful leave is seen by a",
                        () -> a.coordinator().orElseThrow().members().size() == 1,
                        Duration.ofSeconds(30));
                assertThat(b.coordinator().orElseThrow().state()).isEqualTo(MembershipState.LEFT);
            }
        }
    }
}
