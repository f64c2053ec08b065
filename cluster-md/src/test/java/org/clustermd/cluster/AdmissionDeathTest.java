package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A peer that dies between the adder's admission of a new leg and its own (docs/lessons.md §44):
 * the adder copied every slot onto the leg but the live peer's, and the peer never copied its
 * own. Real ZooKeeper, real leg files, nodes in this JVM; the peer's admission is held by its
 * leg reads, and its death is a real session expiry.
 */
class AdmissionDeathTest {
    private static final long LEG = 24L << 20;

    @TempDir
    Path dir;

    /**
     * The peer is idle, so its slot is clean and its recovery finds nothing to clear: nothing
     * rewrites the slot on the new leg. The leg takes role 0, so once it is in sync every bitmap
     * read comes from it first, and a node that takes the dead peer's slot over opens its bitmap
     * from there.
     */
    @Test
    void aPeerThatDiesBeforeItCopiedItsSlotOntoANewLegHasTheSlotCopiedThereByItsRecovery() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan =
                    new GlobDeviceLocator(List.of(dir.resolve("new*").toString()));
            Superblock sb = ClusterFixture.superblock(c.legs.get(1));
            long area = (sb.superOffset() + sb.bitmapOffset()) * 512L;
            long data = sb.dataOffset() * 512L;
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node p = c.start("node-p", scan, d -> {
                HeldReads h = new HeldReads(d);
                held.add(h);
                return h;
            });
            try {
                int slot = p.slot();
                String leg0 = a.array.mirrors().byDevNumber(0).orElseThrow().name();
                a.array.failDevice(leg0);
                a.array.removeDevice(leg0);

                Path fresh = c.newLeg("new0");
                held.forEach(h -> h.arm(area, data)); // the first area read of an idle node: its admission's copy
                a.array.addDevice(BlockDevices.open(fresh));
                int dev = ClusterFixture.devNumberOf(a.array, fresh);
                // p admits the leg at the adder's RESYNCING_START: its copy of the area is held there
                Timing.waitFor(
                        "p is admitting the new leg",
                        () -> held.stream().anyMatch(HeldReads::holding),
                        Timing.seconds(60));
                assertThat(a.array.mirrors().byDevNumber(dev).orElseThrow().state())
                        .as("the adder admitted the leg before p")
                        .isEqualTo(MirrorState.REBUILDING);
                assertThat(a.array.mirrors().byDevNumber(dev).orElseThrow().role())
                        .isZero();
                c.expire(p);

                ClusterFixture.awaitInSync(a, dev, "a has the new leg in sync", Timing.seconds(60));
                Timing.waitFor(
                        "a recovered p's slot",
                        () -> a.events.stream().anyMatch(e -> e.startsWith("copied" + slot + ":"))
                                && a.cluster.pendingRecoveries().isEmpty(),
                        Timing.seconds(60));
                a.array.awaitSyncIdle(Timing.seconds(60));

                long stride = a.array.bitmap().orElseThrow().geometry().stride();
                long from = area + slot * stride;
                byte[] onNew = ClusterFixture.bytes(fresh, from, (int) stride);
                byte[] onOld = ClusterFixture.bytes(c.legs.get(1), from, (int) stride);
                assertThat(Arrays.equals(onNew, onOld))
                        .as(
                                "p's slot is the same on the new leg (starts %s) as on the in-sync one (starts %s)",
                                HexFormat.of().formatHex(onNew, 0, 8),
                                HexFormat.of().formatHex(onOld, 0, 8))
                        .isTrue();

                // the array's legs are now the new one and leg1; the joiner reads its bitmap from
                // the in-sync leg with the lowest role, the new one
                c.legs.set(0, fresh);
                ClusterFixture.Node e = c.start("node-e", scan);
                assertThat(e.slot()).as("the joiner takes p's slot over").isEqualTo(slot);
                assertThat(e.array.bitmap()).isPresent();
            } finally {
                held.forEach(HeldReads::release);
            }
        }
    }
}
