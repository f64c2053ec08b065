package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class BitmapGeometryTest {

    static LongStream seeds() {
        return LongStream.range(1, 21);
    }

    /** mdadm super1.c calc_bitmap_size(bms, 4096), with bitmap_bits() from mdadm.h. */
    static long mdadmSlotBytes(long syncSize, long chunkSize) {
        long bits = (syncSize * 512 + chunkSize - 1) / chunkSize;
        long bytes = ((bits + 7) >> 3) + 256;
        return (bytes + 4095) / 4096 * 4096;
    }

    /** The kernel's md_bitmap_read_sb: slot offset in sectors for cluster_slot. */
    static long kernelSlotOffsetSectors(long syncSize, long chunkSize, int slot) {
        long blocks = (syncSize + (chunkSize >> 9) - 1) / (chunkSize >> 9);
        blocks = ((blocks + 7) >> 3) + 256;
        blocks = (blocks + 4095) / 4096;
        return slot * (blocks << 3);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void slotPlacementAgreesWithKernelAndMdadm(long seed) {
        Random r = new Random(seed);
        for (int i = 0; i < 200; i++) {
            long chunk = 512L << r.nextInt(20);
            long sync = 1 + (r.nextLong() & ((1L << (r.nextInt(40) + 1)) - 1));
            if ((sync + (chunk >> 9) - 1) / (chunk >> 9) > BitmapGeometry.MAX_CHUNKS) continue;
            int nodes = 1 + r.nextInt(8);
            BitmapGeometry g = new BitmapGeometry(sync, chunk, nodes);
            assertThat(g.stride())
                    .as("seed %d sync %d chunk %d", seed, sync, chunk)
                    .isEqualTo(mdadmSlotBytes(sync, chunk));
            for (int s = 0; s < nodes; s++) {
                assertThat(g.slotOffset(s)).isEqualTo(kernelSlotOffsetSectors(sync, chunk, s) * 512);
                assertThat(g.slotOffset(s)).isEqualTo(s * mdadmSlotBytes(sync, chunk));
            }
        }
    }

    @Test
    void designDocExampleFourNodesTwoBlocksEach() {
        // 40,000 chunks: 256 + 5,000 bytes, two 4 KiB blocks per slot; with the area at byte
        // 8192 of the leg the slots sit at 8, 16, 24 and 32 KiB
        BitmapGeometry g = new BitmapGeometry(40_000L * 128, 65536, 4);
        assertThat(g.chunks()).isEqualTo(40_000);
        assertThat(g.pages()).isEqualTo(2);
        assertThat(8192 + g.slotOffset(0)).isEqualTo(8 * 1024);
        assertThat(8192 + g.slotOffset(1)).isEqualTo(16 * 1024);
        assertThat(8192 + g.slotOffset(2)).isEqualTo(24 * 1024);
        assertThat(8192 + g.slotOffset(3)).isEqualTo(32 * 1024);
    }

    @Test
    void bitsStartRightAfterTheSuperblockLsbFirst() {
        assertThat(BitmapGeometry.bitByte(0)).isEqualTo(256);
        assertThat(BitmapGeometry.bitInByte(0)).isZero();
        assertThat(BitmapGeometry.bitByte(9)).isEqualTo(257);
        assertThat(BitmapGeometry.bitInByte(9)).isEqualTo(1);
        // page 0 holds (4096 - 256) * 8 bits, as md's file_page_index computes
        assertThat(BitmapGeometry.pageOf(30_719)).isZero();
        assertThat(BitmapGeometry.pageOf(30_720)).isEqualTo(1);
    }

    @Test
    void chunkArithmeticInSectors() {
        BitmapGeometry g = new BitmapGeometry(1000, 64 * 1024, 1); // 128 sectors per chunk
        assertThat(g.chunkSectors()).isEqualTo(128);
        assertThat(g.chunkShift()).isEqualTo(7);
        assertThat(g.chunks()).isEqualTo(8); // the last chunk is partial
        assertThat(g.chunkOf(127)).isZero();
        assertThat(g.chunkOf(128)).isEqualTo(1);
        assertThat(g.chunkStart(7)).isEqualTo(896);
        assertThat(g.chunkEnd(7)).isEqualTo(1000);
    }

    @Test
    void impossibleGeometryIsRefused() {
        assertThatThrownBy(() -> new BitmapGeometry(100, 768, 1)).hasMessageContaining("power of two");
        assertThatThrownBy(() -> new BitmapGeometry(1L << 62, 512, 1)).hasMessageContaining("chunks exceed");
        assertThatThrownBy(() -> new BitmapGeometry(100, 4096, 2).slotOffset(2)).hasMessageContaining("slot 2");
    }

    @Test
    void sectorRangeIsHalfOpen() {
        SectorRange a = new SectorRange(0, 8);
        assertThat(a.overlaps(new SectorRange(8, 16))).isFalse();
        assertThat(a.overlaps(new SectorRange(7, 9))).isTrue();
        assertThat(a.contains(8)).isFalse();
        assertThat(SectorRange.of(16, 8)).isEqualTo(new SectorRange(16, 24));
        assertThatThrownBy(() -> new SectorRange(5, 4)).isInstanceOf(IllegalArgumentException.class);
    }
}
