package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * METADATA_UPDATED on a real ZooKeeper and shared leg files (docs/md-cluster-protocol.md §f.5):
 * a superblock written by one node is reloaded by every peer before the writer's update
 * returns, so one events counter and one view of the legs serve the whole array, and no node
 * writes a peer's change backwards.
 */
class MetadataUpdateTest {
    @TempDir
    Path dir;

    @Test
    void aLegFailedOnOneNodeIsFaultyOnEveryPeerWithEqualEventsAndAPeersLaterWriteKeepsIt() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, 24L << 20)) {
            List<ClusterFixture.Node> all =
                    List.of(c.start("node-a", true), c.start("node-b", true), c.start("node-c", true));
            ClusterFixture.Node a = all.get(0);
            ClusterFixture.Node b = all.get(1);
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();

            a.array.failDevice(leg1);

            // the update returned after every peer processed METADATA_UPDATED: no waiting here
            for (ClusterFixture.Node n : all) {
                assertThat(n.array.mirrors().byDevNumber(1).orElseThrow().state())
                        .as(n.name)
                        .isEqualTo(MirrorState.FAULTY);
                assertThat(n.array.events()).as(n.name + " events").isEqualTo(a.array.events());
            }
            assertThat(onDisk(c, 0).devRole(1)).isEqualTo(Superblock.ROLE_FAULTY);

            long eventsAfterFail = a.array.events();
            // a peer's own superblock write starts from the shared events and keeps the failure
            b.array.writeMostly(b.array.mirrors().byDevNumber(0).orElseThrow().name(), true);
            Superblock after = onDisk(c, 0);
            assertThat(after.devRole(1))
                    .as("b never writes a's failure backwards")
                    .isEqualTo(Superblock.ROLE_FAULTY);
            assertThat(after.events()).isGreaterThan(eventsAfterFail);
            for (ClusterFixture.Node n : all)
                assertThat(n.array.events()).as(n.name + " events").isEqualTo(after.events());
            assertThat(a.cluster.messagesSent()).isPositive();
            assertThat(b.cluster.messagesReceived()).isPositive();
            assertThat(all).allMatch(n -> n.cluster.messagesRefused() == 0);
        }
    }

    @Test
    void lesson9AMetadataUpdateRacingALocalAdminOperationOnAPeerNeverDeadlocks() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, 24L << 20)) {
            List<ClusterFixture.Node> all =
                    List.of(c.start("node-a", true), c.start("node-b", true), c.start("node-c", true));
            ClusterFixture.Node a = all.get(0);
            ClusterFixture.Node b = all.get(1);
            for (int round = 0; round < 4; round++) {
                boolean on = round % 2 == 0;
                // b's admin op holds b's reconfig lock while its update waits for the token a holds while it
                // waits for b's ack: b's receive thread must reload without that lock
                CompletableFuture<Void> peer = CompletableFuture.runAsync(() -> {
                    try {
                        b.array.writeMostly(
                                b.array.mirrors().byDevNumber(0).orElseThrow().name(), on);
                    } catch (Raid1Exception e) {
                        throw new IllegalStateException(e);
                    }
                });
                a.array.writeMostly(
                        a.array.mirrors().byDevNumber(1).orElseThrow().name(), on);
                peer.get(60, TimeUnit.SECONDS);
            }
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();
            CompletableFuture<Void> peer = CompletableFuture.runAsync(() -> {
                try {
                    b.array.writeMostly(
                            b.array.mirrors().byDevNumber(0).orElseThrow().name(), true);
                } catch (Raid1Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            a.array.failDevice(leg1);
            peer.get(60, TimeUnit.SECONDS);
            long events = onDisk(c, 0).events();
            for (ClusterFixture.Node n : all) {
                assertThat(n.array.mirrors().byDevNumber(1).orElseThrow().state())
                        .as(n.name)
                        .isEqualTo(MirrorState.FAULTY);
                assertThat(n.array.events()).as(n.name + " events").isEqualTo(events);
            }
            assertThat(onDisk(c, 0).devRole(1)).isEqualTo(Superblock.ROLE_FAULTY);
        }
    }

    @Test
    void oneNodeMoreThanTheBitmapHasSlotsIsRefusedCleanly() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 24L << 20)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            ClusterCoordinator extra = ClusterCoordinator.builder()
                    .connectString(c.zk.connectString())
                    .nodeName("node-extra")
                    .sessionTimeout(ClusterFixture.SESSION)
                    .build();
            assertThatThrownBy(() -> Raid1Array.open(
                            c.legs,
                            ArrayOptions.builder()
                                    .name("md0-extra")
                                    .cluster(extra)
                                    .build()))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.CLUSTER))
                    .hasMessageContaining("every one of the bitmap's 2 node slots is taken");
            assertThat(extra.state()).isEqualTo(MembershipState.LEFT);
            // the members go on as before: a broadcast still reaches exactly the other one
            a.array.failDevice(a.array.mirrors().byDevNumber(1).orElseThrow().name());
            assertThat(b.array.mirrors().byDevNumber(1).orElseThrow().state()).isEqualTo(MirrorState.FAULTY);
            assertThat(a.cluster.members()).hasSize(2);
        }
    }

    private static Superblock onDisk(ClusterFixture c, int leg) throws Exception {
        try (var d = BlockDevices.open(c.legs.get(leg))) {
            return SuperblockCodec.read(d);
        }
    }
}
