package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import org.clustermd.raid1.sb.Superblock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/lessons.md §57: a leg admitted while a peer lived lacks that peer's slot until the peer or
 * its recovery copies it, its header there zeroed (a new device, or the add's clearing, docs/lessons.md §64). Nodes that never saw
 * the admission (here the whole cluster restarted) learn the gap from the disk: they read the
 * slot from a leg that holds it, and the first node that holds the slot's bitmap lock (its new
 * owner at join, or a joiner gathering it free) copies it onto the leg. Leg 0 has role 0, so
 * without that every read of the slot comes from the leg that lacks it. Real ZooKeeper, real leg
 * files, nodes in this JVM.
 */
class SlotGapTest {
    private static final long LEG = 24L << 20;

    @TempDir
    Path dir;

    @Test
    void aFreeSlotMissingOnTheFirstLegIsReadFromTheOtherAndCopiedThereByAJoinerThatGathersIt() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            long stride = strideOf(c);
            long from = areaOf(c) + stride; // slot 1: free, its owner gone
            zeroHeader(c.legs.get(0), from);

            ClusterFixture.Node a = c.start("node-a", true);
            assertThat(a.slot()).isZero();
            assertSameOnBothLegs(c, from, stride, "a copied free slot 1 onto leg 0 when it gathered it");

            ClusterFixture.Node e = c.start("node-e", true);
            assertThat(e.slot()).as("the joiner takes slot 1").isEqualTo(1);
            assertThat(e.array.bitmap()).isPresent();
        }
    }

    @Test
    void aNodeWhoseOwnSlotIsMissingOnTheFirstLegOpensItFromTheOtherAndCopiesItThere() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            long stride = strideOf(c);
            long from = areaOf(c); // slot 0, which node-a gets back
            zeroHeader(c.legs.get(0), from);

            ClusterFixture.Node a = c.start("node-a", true);
            assertThat(a.slot()).isZero();
            assertThat(a.array.bitmap()).isPresent();
            assertSameOnBothLegs(c, from, stride, "a copied its own slot onto leg 0 at assembly");
        }
    }

    /** Starts node-a once (it takes slot 0 and comes back to it by name) to read the stride, then stops it. */
    private static long strideOf(ClusterFixture c) throws Exception {
        ClusterFixture.Node a = c.start("node-a", true);
        long stride = a.array.bitmap().orElseThrow().geometry().stride();
        a.array.close();
        return stride;
    }

    private static long areaOf(ClusterFixture c) throws Exception {
        Superblock sb = ClusterFixture.superblock(c.legs.get(1));
        return (sb.superOffset() + sb.bitmapOffset()) * 512L;
    }

    /** What an admission leaves for a slot it skipped whose owner never copied it. */
    private static void zeroHeader(Path leg, long at) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(leg.toFile(), "rw")) {
            raf.seek(at);
            raf.write(new byte[4096]);
        }
    }

    private static void assertSameOnBothLegs(ClusterFixture c, long from, long stride, String what) throws Exception {
        byte[] first = ClusterFixture.bytes(c.legs.get(0), from, (int) stride);
        byte[] second = ClusterFixture.bytes(c.legs.get(1), from, (int) stride);
        assertThat(Arrays.equals(first, second))
                .as(
                        "%s: leg 0 starts %s, leg 1 starts %s",
                        what,
                        HexFormat.of().formatHex(first, 0, 8),
                        HexFormat.of().formatHex(second, 0, 8))
                .isTrue();
    }
}
