package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.UUID;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.BitmapException.Field;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.SuperblockCodec;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.api.Test;

class BitmapAreaTest {
    static final UUID UUID_A = UUID.fromString("11111111-2222-3333-4444-555555555555");

    static BitmapSuperblock fourNodes() {
        // 1 GiB array, 64 KiB chunks: 16384 chunks, 2304 bytes per slot, one 4 KiB block each
        return BitmapSuperblock.clustered(UUID_A, 2 * 1024 * 1024, 64 * 1024, 4, "clusterA");
    }

    @Test
    void createWritesSlotZeroAllOnesAndOthersClear() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("leg0", 64 * 1024);
        BitmapArea area = BitmapArea.create(s, fourNodes(), false);
        assertThat(area.slots()).isEqualTo(4);
        assertThat(area.examine(0).dirtyChunks()).isEqualTo(16384);
        assertThat(area.examine(0).chunks()).isEqualTo(16384);
        for (int i = 1; i < 4; i++) assertThat(area.examine(i).dirtyChunks()).isZero();
        // the byte after the last chunk's byte is padding and stays zero
        assertThat(s.snapshot()[256 + 16384 / 8]).isZero();
        assertThat(area.superblock().sectorsReserved()).isEqualTo(128);
        assertThat(BitmapArea.read(s).examine(3).superblock()).isEqualTo(area.superblock());
    }

    @Test
    void assumeCleanLeavesEverySlotClear() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("leg0", 64 * 1024);
        BitmapArea area = BitmapArea.create(s, fourNodes(), true);
        for (SlotSummary sum : area.examineAll()) assertThat(sum.dirtyChunks()).isZero();
    }

    @Test
    void areaThatDoesNotFitIsRefused() {
        MemoryBitmapStorage s = new MemoryBitmapStorage("leg0", 12 * 1024);
        assertThatThrownBy(() -> BitmapArea.create(s, fourNodes(), false))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.GEOMETRY))
                .hasMessageContaining("4 slot(s) of 4096 bytes")
                .hasMessageContaining("bitmap area has 12288");
    }

    @Test
    void readRefusesAnAreaBiggerThanItsStorage() throws Exception {
        MemoryBitmapStorage big = new MemoryBitmapStorage("leg0", 64 * 1024);
        BitmapArea.create(big, fourNodes().withSectorsReserved(8), false);
        MemoryBitmapStorage small =
                MemoryBitmapStorage.of("leg0-truncated", java.util.Arrays.copyOf(big.snapshot(), 8192));
        assertThatThrownBy(() -> BitmapArea.read(small))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.GEOMETRY))
                .hasMessageContaining("leg0-truncated slot 0");
    }

    @Test
    void sectorsReservedTooSmallForOneSlotIsRefused() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("leg0", 64 * 1024);
        BitmapArea.create(s, fourNodes(), false);
        ByteBuffer page = BitmapStorage.allocate(4096);
        s.read(0, page);
        page.putInt(SuperblockCodec.OFF_SECTORS_RESERVED, 4); // 2048 bytes < 2304
        s.write(0, page.clear());
        assertThatThrownBy(() -> BitmapArea.read(s))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.field()).contains(Field.SECTORS_RESERVED));
    }

    @Test
    void slotOutOfRangeIsNamed() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("leg0", 64 * 1024);
        BitmapArea area = BitmapArea.create(s, fourNodes(), false);
        assertThatThrownBy(() -> area.examine(4))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.SLOT_RANGE))
                .hasMessageContaining("slot 4 is out of range")
                .hasMessageContaining("nodes = 4");
        assertThatThrownBy(() -> area.readSuperblock(-1))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.SLOT_RANGE));
        assertThatThrownBy(() -> WriteIntentBitmap.open(
                        s, 7, BitmapOptions.builder().startDaemon(false).build()))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.SLOT_RANGE));
    }

    @Test
    void aSlotOfAnotherArrayIsNamed() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("leg0", 64 * 1024);
        BitmapArea area = BitmapArea.create(s, fourNodes(), false);
        ByteBuffer page = BitmapStorage.allocate(4096);
        s.read(2 * 4096, page);
        page.putLong(SuperblockCodec.OFF_UUID, 42);
        s.write(2 * 4096, page.clear());
        assertThatThrownBy(() -> area.readSuperblock(2))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.field()).contains(Field.UUID))
                .hasMessageContaining("leg0 slot 2");
        page.clear();
        s.read(3 * 4096, page);
        page.putInt(SuperblockCodec.OFF_MAGIC, 0);
        s.write(3 * 4096, page.clear());
        assertThatThrownBy(() -> area.examine(3))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.field()).contains(Field.MAGIC))
                .hasMessageContaining("leg0 slot 3");
    }

    @Test
    void unclusteredAreaHasOneSlot() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("file", 8192);
        BitmapArea area = BitmapArea.create(s, BitmapSuperblock.unclustered(UUID_A, 1000, 4096), false);
        assertThat(area.slots()).isEqualTo(1);
        assertThat(area.examine(0).dirtyChunks()).isEqualTo(125);
        assertThatThrownBy(() -> area.examine(1)).hasMessageContaining("unclustered");
    }
}
