package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.FenceReason;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.SyncReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.admin.SlotReport;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * md-cluster's node recovery (docs/md-cluster-protocol.md §d) on a real ZooKeeper and real leg files:
 * nodes of one array in this JVM, one of them dies (its session expires, its bitmap is never
 * cleaned), the survivors recover exactly its dirty chunks and the legs end identical.
 */
class NodeRecoveryTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(60));

    @TempDir
    Path dir;

    @Test
    void survivorsRecoverExactlyTheDeadNodesDirtyChunksAndOnlyOneOfThemCopiesThem() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, 40L << 20)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", false); // the victim: its bits stay set until it dies
            ClusterFixture.Node d = c.start("node-d", true);
            assertThat(List.of(a.slot(), b.slot(), d.slot())).containsExactlyInAnyOrder(0, 1, 2);
            assertThat(a.cluster.state()).isEqualTo(MembershipState.ACTIVE);
            assertThat(a.cluster.members()).hasSize(3);

            long[] victimChunks = {3, 7, 21};
            for (long ch : victimChunks) {
                for (int blk = 0; blk < 4; blk++)
                    b.writeBlock(ClusterFixture.chunk(ch) + blk * 65536L, 100 + ch * 10 + blk);
            }
            a.writeBlock(ClusterFixture.chunk(30), 1); // a survivor's own chunk
            // the victim's writes reached leg 0 only: leg 1 holds something else there
            for (long ch : victimChunks) c.scribble(1, ClusterFixture.chunk(ch), 256 << 10);
            assertThat(Verifier.compareLegs(c.legs).identical()).isFalse();
            a.events.clear();
            d.events.clear();

            c.expire(b);

            await().atMost(WAIT).until(() -> b.array.fenceReason().isPresent());
            assertThat(b.array.fenceReason()).contains(FenceReason.CLUSTER_SESSION_LOST);
            await().atMost(WAIT).until(() -> a.copies.size() == 1 && d.copies.size() == 1);
            assertThat(a.cluster.pendingRecoveries()).isEmpty();
            assertThat(d.cluster.pendingRecoveries()).isEmpty();
            SlotCopy first = a.copies.get(0).foundDirty() ? a.copies.get(0) : d.copies.get(0);
            SlotCopy second = first == a.copies.get(0) ? d.copies.get(0) : a.copies.get(0);
            assertThat(first.slot()).isEqualTo(b.slot());
            assertThat(first.dirtyChunks()).as("the dead node's dirty chunks").isEqualTo(victimChunks.length);
            assertThat(first.firstDirtyChunk()).isEqualTo(3);
            assertThat(first.lastDirtyChunk()).isEqualTo(21);
            assertThat(second.foundDirty())
                    .as("the later survivor finds the slot clean")
                    .isFalse();
            ClusterFixture.Node winner = first == a.copies.get(0) ? a : d;
            assertThat(winner.cluster.dirtyChunksRecovered()).isEqualTo(3);

            for (ClusterFixture.Node n : List.of(a, d)) {
                await().atMost(WAIT)
                        .until(() ->
                                n.cluster.state() == MembershipState.ACTIVE && !n.cluster.readBalancingSuspended());
                assertThat(n.events).as(n.name).startsWith("ACTIVE->RECOVERING", "prep", "slot" + b.slot());
                assertThat(n.events)
                        .as(n.name)
                        .contains(
                                "RECOVERING->ACTIVE",
                                "done"
                                        + List.of(a.slot(), d.slot()).stream()
                                                .sorted()
                                                .toList());
                assertThat(n.readsUnbalancedDuringRecovery)
                        .as("reads unbalanced from recover_prep on")
                        .containsOnly(true);
            }
            SyncReport r = winner.array.awaitSyncIdle(WAIT).orElseThrow();
            assertThat(r.completed()).isTrue();
            assertThat(r.sectorsCopied())
                    .as("exactly the dirty chunks are resynced (P10)")
                    .isEqualTo(victimChunks.length * ClusterFixture.CHUNK / 512);

            // the survivors keep writing
            a.writeBlock(ClusterFixture.chunk(31), 2);
            d.writeBlock(ClusterFixture.chunk(32), 3);
            for (SlotReport s :
                    Examiner.examine(c.legs.get(0)).bitmap().orElseThrow().slots()) {
                if (s.slot() == b.slot())
                    assertThat(s.dirty()).as("the dead slot is cleared").isZero();
            }
            assertThatThrownBy(() -> b.writeBlock(0, 9))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.FENCED));
            for (ClusterFixture.Node n : List.of(a, d, b)) n.array.close();
            assertThat(a.cluster.state()).isEqualTo(MembershipState.LEFT);
        }
        assertThat(Verifier.compareLegs(List.of(dir.resolve("leg0"), dir.resolve("leg1")))
                        .identical())
                .as("legs identical after the recovery")
                .isTrue();
        try (Raid1Array check = Raid1Array.open(
                List.of(dir.resolve("leg0"), dir.resolve("leg1")),
                ArrayOptions.builder().name("check").startFrozen(true).build())) {
            ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
            check.read(ClusterFixture.chunk(21) + 3 * 65536L, buf);
            assertThat(StampedBlock.read(buf, 0, ClusterFixture.chunk(21) + 3 * 65536L)
                            .writeId())
                    .isEqualTo(100 + 213);
        }
    }

    @Test
    void aDeadNodeWhoseOnlyDirtyChunkIsChunkZeroIsRecovered() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", false);
            b.writeBlock(0, 7);
            c.scribble(1, 0, 4096);

            c.expire(b);

            await().atMost(WAIT).until(() -> a.copies.size() == 1);
            SlotCopy copy = a.copies.get(0);
            assertThat(copy.foundDirty())
                    .as("docs/lessons.md §17: chunk 0 alone is dirty, not clean")
                    .isTrue();
            assertThat(copy.dirtyChunks()).isEqualTo(1);
            assertThat(copy.firstDirtyChunk()).isZero();
            SyncReport r = a.array.awaitSyncIdle(WAIT).orElseThrow();
            assertThat(r.sectorsCopied()).isEqualTo(ClusterFixture.CHUNK / 512);
            b.array.close();
            a.array.close();
        }
        assertThat(Verifier.compareLegs(List.of(dir.resolve("leg0"), dir.resolve("leg1")))
                        .identical())
                .isTrue();
    }

    @Test
    void aGracefulLeaveIsNotADeathAndItsSlotIsFreeForTheNextNode() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            b.writeBlock(ClusterFixture.chunk(5), 1);
            a.events.clear();

            b.array.close();

            assertThat(b.cluster.state()).isEqualTo(MembershipState.LEFT);
            await().atMost(WAIT).until(() -> a.events.contains("done[" + a.slot() + "]"));
            assertThat(a.events)
                    .as("recover_prep and recover_done, but no recover_slot")
                    .containsExactly("ACTIVE->RECOVERING", "prep", "RECOVERING->ACTIVE", "done[" + a.slot() + "]");
            assertThat(a.copies).isEmpty();
            for (SlotReport s :
                    Examiner.examine(c.legs.get(0)).bitmap().orElseThrow().slots()) {
                assertThat(s.dirty()).as("slot %d after a clean stop", s.slot()).isZero();
            }
            ClusterFixture.Node again = c.start("node-b", true);
            assertThat(again.slot()).as("the leaver's bitmap lock was released").isEqualTo(b.slot());
        }
    }
}
