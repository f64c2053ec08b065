package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.storage.SuperblockCodec;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/lessons.md §64: a leg that comes back into the array (re-added after a failure) holds an
 * earlier life's copy of every slot. A live peer's slot there is not copied by the node that
 * re-adds it (docs/lessons.md §44) but by the peer itself, which may die first
 * (docs/lessons.md §57); a node that never saw the admission learns the gap from the slot's
 * header, which an earlier life leaves decodable, of this array, and as new as the in-sync legs'
 * whenever the peer wrote no superblock of its own since the leg left, while the bits under it
 * are not the peer's. Real ZooKeeper, real leg files, nodes in this JVM; the peer's own copy is
 * held by its leg reads.
 */
class ReAddedLegSlotTest {
    private static final long LEG = 24L << 20;

    @TempDir
    Path dir;

    /**
     * Leg 0 (role 0) fails, the peer writes while it is out (its bits set on leg 1 only, its
     * slot's header unchanged), and the leg is re-added. While the peer has not copied its slot
     * onto leg 0 yet, that slot's header on leg 0 must not pass for the peer's current slot:
     * without the re-add's clearing it is the earlier life's, with the same events and other bits.
     */
    @Test
    void aPeersSlotOnAReAddedLegNeverPassesForCurrentBeforeThePeerCopiedIt() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            Superblock sb = ClusterFixture.superblock(c.legs.get(1));
            long area = (sb.superOffset() + sb.bitmapOffset()) * 512L;
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node p = c.start(
                    "node-p", true, c.zk.connectString(), ClusterFixture.SESSION, ArrayOptions.DEFAULT_IO_WAIT, d -> {
                        HeldReads h = new HeldReads(d);
                        held.add(h);
                        return h;
                    });
            try {
                int slot = p.slot();
                long stride = p.array.bitmap().orElseThrow().geometry().stride();
                long from = area + slot * stride;
                String leg0 = c.legs.get(0).toString();
                assertThat(a.array.mirrors().byDevNumber(0).orElseThrow().role())
                        .isZero();

                // p's first write marks the array dirty through a superblock update of its own, which
                // writes its slot's events; a clustered array never goes back to clean (no safemode)
                p.writeBlock(ClusterFixture.chunk(1), 100);
                a.array.failDevice(leg0);
                Timing.waitFor(
                        "p has leg 0 failed",
                        () -> p.array.mirrors().byDevNumber(0).orElseThrow().state() == MirrorState.FAULTY,
                        Timing.seconds(60));
                // degraded: the bits stay set, and only leg 1 gets them
                for (int i = 0; i < 4; i++) p.writeBlock(ClusterFixture.chunk(3 + 5 * i), i + 1);
                p.array.bitmap().orElseThrow().flush();
                assertThat(Arrays.equals(
                                ClusterFixture.bytes(c.legs.get(0), from, (int) stride),
                                ClusterFixture.bytes(c.legs.get(1), from, (int) stride)))
                        .as("p's slot on the failed leg is its earlier life's")
                        .isFalse();

                // p's own copy onto the returning leg: the first read of its own slot
                held.forEach(h -> h.arm(from, from + stride));
                a.array.reAddDevice(leg0);
                Timing.waitFor(
                        "p is copying its slot onto the re-added leg",
                        () -> held.stream().anyMatch(HeldReads::holding),
                        Timing.seconds(60));

                byte[] onReturning = ClusterFixture.bytes(c.legs.get(0), from, (int) stride);
                byte[] inSync = ClusterFixture.bytes(c.legs.get(1), from, (int) stride);
                BitmapSuperblock current = decode(inSync);
                BitmapSuperblock returning = decode(onReturning);
                assertThat(current).as("p's slot header on leg 1").isNotNull();
                boolean passesForCurrent = returning != null
                        && returning.uuid().equals(current.uuid())
                        && returning.events() >= current.events();
                assertThat(!passesForCurrent || Arrays.equals(onReturning, inSync))
                        .as(
                                "p's slot on the re-added leg before p copied it: header %s (events %s) against"
                                        + " leg 1's events %d; a node that assembles now must see it lacks the slot",
                                returning == null ? "not decodable" : "decodable",
                                returning == null ? "-" : Long.toString(returning.events()),
                                current.events())
                        .isTrue();

                held.forEach(HeldReads::release);
                ClusterFixture.awaitInSync(a, 0, "a has leg 0 in sync again", Timing.seconds(60));
                ClusterFixture.awaitInSync(p, 0, "p has leg 0 in sync again", Timing.seconds(60));
                Timing.waitFor(
                        "p copied its slot onto leg 0",
                        () -> Arrays.equals(
                                ClusterFixture.bytes(c.legs.get(0), from, (int) stride),
                                ClusterFixture.bytes(c.legs.get(1), from, (int) stride)),
                        Timing.seconds(60));
            } finally {
                held.forEach(HeldReads::release);
            }
        }
    }

    /** The slot header in {@code slot}'s first page; null when it does not decode. */
    private static BitmapSuperblock decode(byte[] slot) {
        try {
            return SuperblockCodec.decode(ByteBuffer.wrap(slot, 0, 4096).slice(), 0, "probe");
        } catch (RuntimeException | org.clustermd.bitmap.BitmapException e) {
            return null;
        }
    }
}
