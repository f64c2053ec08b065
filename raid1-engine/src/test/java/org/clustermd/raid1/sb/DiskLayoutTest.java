package org.clustermd.raid1.sb;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.LongStream;
import org.clustermd.raid1.io.BlockDeviceException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class DiskLayoutTest {

    @Test
    void designDocExampleFourSlotsOfTwoPagesEach() throws Exception {
        // md-cluster.rst: 4 nodes, each slot two 4 KiB blocks: slots at 8, 16, 24 and 32 KiB
        DiskLayout l = DiskLayout.compute("leg", 160L << 20, 4, 4096);
        assertThat(l.superOffset()).isEqualTo(8);
        assertThat(l.bitmapOffset()).isEqualTo(8);
        assertThat(l.slotBytes()).isEqualTo(8192);
        assertThat(l.slotOffsetBytes(0)).isEqualTo(8192);
        assertThat(l.slotOffsetBytes(1)).isEqualTo(16384);
        assertThat(l.slotOffsetBytes(2)).isEqualTo(24576);
        assertThat(l.slotOffsetBytes(3)).isEqualTo(32768);
        assertThat(l.dataOffset()).isEqualTo(2048);
        assertThat(l.dataSize()).isEqualTo((160L << 20) / 512 - 2048);
        assertThat(l.size()).isEqualTo(l.dataSize());
        assertThat(l.chunks()).isEqualTo(l.size() * 512 / 4096);
    }

    @Test
    void strideFollowsMdadmsCalcBitmapSize() {
        // bits = ceil(size*512/chunk); bytes = ceil(bits/8) + 256, rounded up to 4 KiB
        assertThat(DiskLayout.chunks(1, 4096)).isEqualTo(1);
        assertThat(DiskLayout.chunks(8, 4096)).isEqualTo(1);
        assertThat(DiskLayout.chunks(9, 4096)).isEqualTo(2);
        assertThat(DiskLayout.slotBytes(8, 4096)).isEqualTo(4096);
        assertThat(DiskLayout.slotBytes(8L * 8 * (4096 - 256), 4096)).isEqualTo(4096); // exactly one page
        assertThat(DiskLayout.slotBytes(8L * 8 * (4096 - 256) + 8, 4096)).isEqualTo(8192); // one bit more
    }

    @Test
    void aRequestedSizeShrinksTheStride() throws Exception {
        DiskLayout full = DiskLayout.compute("leg", 1L << 30, 2, 4096);
        DiskLayout small = DiskLayout.compute("leg", 1L << 30, 2, 4096, 2048);
        assertThat(small.size()).isEqualTo(2048);
        assertThat(small.slotBytes()).isEqualTo(4096);
        assertThat(full.slotBytes()).isGreaterThan(small.slotBytes());
        assertThat(small.dataOffset()).isEqualTo(full.dataOffset());
    }

    @Test
    void legTooSmallIsAClearError() {
        assertThatThrownBy(() -> DiskLayout.compute("/dev/sdz", 1L << 20, 4, 65536))
                .isInstanceOfSatisfying(
                        BlockDeviceException.class,
                        e -> assertThat(e.code()).isEqualTo(BlockDeviceException.Code.DEVICE_TOO_SMALL))
                .hasMessageContaining("/dev/sdz")
                .hasMessageContaining("too small");
        assertThatThrownBy(() -> DiskLayout.compute("leg", 64L << 20, 2, 65536, 1L << 30))
                .isInstanceOf(BlockDeviceException.class)
                .hasMessageContaining("data sectors");
    }

    @Test
    void badArgumentsAreRefused() {
        assertThatThrownBy(() -> DiskLayout.compute("leg", 1L << 30, 0, 4096))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DiskLayout.compute("leg", 1L << 30, 65, 4096))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DiskLayout.compute("leg", 1L << 30, 2, 2048))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> DiskLayout.compute("leg", 1L << 30, 2, 12288))
                .isInstanceOf(IllegalArgumentException.class);
    }

    static LongStream seeds() {
        return LongStream.rangeClosed(1, 100);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void invariantsHoldForRandomLegs(long seed) throws Exception {
        Random r = new Random(seed);
        long legBytes = (8L << 20) + (r.nextLong() & ((1L << 44) - 1));
        int nodes = 1 + r.nextInt(DiskLayout.MAX_NODES);
        long chunk = 4096L << r.nextInt(15);
        DiskLayout l;
        try {
            l = DiskLayout.compute("leg", legBytes, nodes, chunk);
        } catch (BlockDeviceException e) {
            assertThat(e.code()).as("seed %d", seed).isEqualTo(BlockDeviceException.Code.DEVICE_TOO_SMALL);
            return;
        }
        String s = "seed " + seed + ": " + l;
        assertThat(l.dataOffset() % DiskLayout.DATA_ALIGN_SECTORS).as(s).isZero();
        assertThat(l.bitmapStartBytes() + nodes * l.slotBytes()).as(s).isLessThanOrEqualTo(l.dataOffsetBytes());
        assertThat(l.bitmapAreaSectors() * 512).as(s).isGreaterThanOrEqualTo(nodes * l.slotBytes());
        assertThat(l.slotBytes() % 4096).as(s).isZero();
        assertThat(l.slotBytes()).as(s).isGreaterThanOrEqualTo(256 + (l.chunks() + 7) / 8);
        assertThat(l.chunks() * chunk).as(s).isGreaterThanOrEqualTo(l.size() * 512);
        assertThat(l.dataOffset() + l.dataSize()).as(s).isEqualTo(legBytes / 512);
        assertThat(l.size()).as(s).isLessThanOrEqualTo(l.dataSize()).isPositive();
        assertThat(l.size() % 8).as(s).isZero();
        // the superblock it implies validates against the leg
        Superblock sb = Superblocks.raid1Member(l, 0, true);
        SuperblockCodec.decode("leg", SuperblockCodec.encode(sb), legBytes / 512);
    }
}
