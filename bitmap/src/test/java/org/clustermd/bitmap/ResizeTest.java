package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.util.UUID;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.api.Test;

class ResizeTest {
    final ManualClock clock = new ManualClock();

    @Test
    void growingKeepsOldStateAndMarksTheNewRegionNeeded() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 1, manual(clock))) {
            b.startWrite(sector(3), 8);
            b.endWrite(sector(3), 8, false);
            b.startWrite(sector(4), 8);
            b.endWrite(sector(4), 8, true);
            long grown = sector(2048 + 100);
            b.resize(grown);
            assertThat(b.geometry().chunks()).isEqualTo(2148);
            assertThat(b.chunk(3).needed()).isTrue();
            assertThat(b.chunk(4).durable()).isTrue();
            assertThat(b.chunk(4).needed()).isFalse();
            assertThat(b.neededRanges())
                    .containsExactly(new SectorRange(sector(3), sector(4)), new SectorRange(sector(2048), grown));
            SlotSummary s = BitmapArea.read(storage).examine(1);
            assertThat(s.superblock().syncSize()).isEqualTo(grown);
            assertThat(s.dirtyChunks()).isEqualTo(102);
            // writes go on in the new region
            b.startWrite(sector(2100), 8);
            b.endWrite(sector(2100), 8, true);
        }
    }

    @Test
    void shrinkingDropsTheBitsBeyondTheEnd() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            b.startWrite(sector(2000), 8);
            b.endWrite(sector(2000), 8, false);
            b.resize(sector(1000));
            assertThat(b.geometry().chunks()).isEqualTo(1000);
            assertThat(b.neededChunks()).isZero();
            assertThat(storage.bit(0, 2000)).isFalse();
        }
    }

    @Test
    void resizeNeedsAQuietBitmap() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            b.startWrite(sector(1), 8);
            assertThatThrownBy(() -> b.resize(sector(3000)))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.BUSY));
            b.endWrite(sector(1), 8, true);
        }
    }

    @Test
    void aClusteredResizeThatMovesSlotsIsRefused() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 64 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            assertThatThrownBy(() -> b.resize(sector(40_000)))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.GEOMETRY))
                    .hasMessageContaining("stride from 4096 to 8192");
        }
    }

    @Test
    void anUnclusteredBitmapMayChangeItsStride() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("file", 64 * 1024);
        BitmapArea.create(storage, BitmapSuperblock.unclustered(UUID.randomUUID(), 1000, 512), true);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            b.resize(40_000);
            assertThat(b.geometry().pages()).isEqualTo(2);
            assertThat(BitmapArea.read(storage).examine(0).dirtyChunks()).isEqualTo(39_000);
            b.startWrite(39_999, 1);
            assertThat(storage.bit(0, 39_999)).isTrue();
            b.endWrite(39_999, 1, true);
        }
    }

    @Test
    void aFreeSlotIsResizedFromOutside() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        WriteIntentBitmap dead = WriteIntentBitmap.open(storage, 2, manual(clock));
        dead.startWrite(sector(10), 8);
        dead.startWrite(sector(1500), 8);
        BitmapArea area = BitmapArea.read(storage);
        area.resizeSlot(2, sector(1000));
        SlotSummary s = area.examine(2);
        assertThat(s.superblock().syncSize()).isEqualTo(sector(1000));
        assertThat(s.dirtyChunks()).isEqualTo(1);
    }
}
