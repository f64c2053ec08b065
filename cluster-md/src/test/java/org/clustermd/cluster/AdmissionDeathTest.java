package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.ForwardingBlockDevice;
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
            List<HeldAreaReads> held = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node p = c.start("node-p", scan, d -> {
                HeldAreaReads h = new HeldAreaReads(d, area, data);
                held.add(h);
                return h;
            });
            try {
                int slot = p.slot();
                String leg0 = a.array.mirrors().byDevNumber(0).orElseThrow().name();
                a.array.failDevice(leg0);
                a.array.removeDevice(leg0);

                Path fresh = c.newLeg("new0");
                held.forEach(HeldAreaReads::arm);
                a.array.addDevice(BlockDevices.open(fresh));
                int dev = ClusterFixture.devNumberOf(a.array, fresh);
                // p admits the leg at the adder's RESYNCING_START: its copy of the area is held there
                Timing.waitFor(
                        "p is admitting the new leg",
                        () -> held.stream().anyMatch(HeldAreaReads::holding),
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
                held.forEach(HeldAreaReads::release);
            }
        }
    }

    /**
     * Once armed, holds every read that starts in the bitmap area until released: the first
     * such read on an idle node is its copy of the area onto a leg it admits.
     */
    private static final class HeldAreaReads extends ForwardingBlockDevice {
        private final long area;
        private final long data;
        private final CountDownLatch released = new CountDownLatch(1);
        private volatile boolean armed;
        private volatile boolean holding;

        HeldAreaReads(BlockDevice inner, long area, long data) {
            super(inner);
            this.area = area;
            this.data = data;
        }

        void arm() {
            armed = true;
        }

        boolean holding() {
            return holding;
        }

        void release() {
            released.countDown();
        }

        @Override
        public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
            if (!armed || offset < area || offset >= data) return inner().readAsync(offset, dst);
            holding = true;
            try {
                // the test releases it in its finally, before the fixture closes the node
                if (!released.await(Timing.seconds(300).toMillis(), TimeUnit.MILLISECONDS)) {
                    return CompletableFuture.failedFuture(new java.io.IOException("never released"));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return CompletableFuture.failedFuture(new java.io.IOException("interrupted"));
            }
            return inner().readAsync(offset, dst);
        }
    }
}
