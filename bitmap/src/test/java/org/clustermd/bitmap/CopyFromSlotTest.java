package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.BitmapException.Field;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.SuperblockCodec;
import org.clustermd.bitmap.testing.CrashRecordingStorage;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.api.Test;

/** md's bitmap_copy_from_slot: node recovery (clear) and join / re-add (keep). */
class CopyFromSlotTest {
    final ManualClock clock = new ManualClock();
    final MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);

    private void dirtyInSlot(int slot, int... chunks) throws BitmapException {
        WriteIntentBitmap other = WriteIntentBitmap.open(storage, slot, manual(clock));
        for (int c : chunks) other.startWrite(sector(c), 8); // the node dies with these in flight
    }

    @Test
    void recoveryMovesTheBitsAndClearsTheSource() throws Exception {
        Fixtures.cleanArea(storage);
        dirtyInSlot(2, 5, 6, 900);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            b.updateSuperblock(33);
            SlotCopy copy = b.copyFromSlot(2, true);
            assertThat(copy).isEqualTo(new SlotCopy(2, true, 3, 5, 900, new SectorRange(sector(5), sector(901)), true));
            for (int c : new int[] {5, 6, 900}) {
                assertThat(b.chunk(c).needed()).isTrue();
                assertThat(storage.bit(0, c)).isTrue();
                assertThat(storage.bit(2 * 4096, c)).isFalse();
            }
            SlotSummary source = BitmapArea.read(storage).examine(2);
            assertThat(source.dirtyChunks()).isZero();
            assertThat(source.superblock().events()).isEqualTo(33);
            // a second survivor finds the slot clean
            try (WriteIntentBitmap other = WriteIntentBitmap.open(storage, 1, manual(clock))) {
                SlotCopy second = other.copyFromSlot(2, true);
                assertThat(second.foundDirty()).isFalse();
                assertThat(second.dirtyRange()).isEqualTo(SectorRange.EMPTY);
                assertThat(second.firstDirtyChunk()).isEqualTo(-1);
                assertThat(second.sourceCleared()).isFalse();
            }
        }
    }

    @Test
    void joinMergesWithoutClearing() throws Exception {
        Fixtures.cleanArea(storage);
        dirtyInSlot(3, 77);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 1, manual(clock))) {
            SlotCopy copy = b.copyFromSlot(3, false);
            assertThat(copy.foundDirty()).isTrue();
            assertThat(copy.sourceCleared()).isFalse();
            assertThat(storage.bit(3 * 4096, 77)).isTrue();
            assertThat(storage.bit(4096, 77)).isTrue();
        }
    }

    @Test
    void ourBitsAreDurableBeforeTheSourceIsCleared() throws Exception {
        CrashRecordingStorage rec = new CrashRecordingStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(rec);
        WriteIntentBitmap dead = WriteIntentBitmap.open(rec, 1, manual(clock));
        dead.startWrite(sector(12), 8);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(rec, 0, manual(clock))) {
            int[] checked = {0};
            rec.listener((s, flush) -> {
                for (CrashRecordingStorage.Model m : CrashRecordingStorage.Model.values()) {
                    byte[] img = s.crashImage(m, new java.util.Random(checked[0]));
                    boolean ours = MemoryBitmapStorage.testBit(img, 0, 12);
                    boolean theirs = MemoryBitmapStorage.testBit(img, 4096, 12);
                    assertThat(ours || theirs)
                            .as("after op %d, model %s", s.operations(), m)
                            .isTrue();
                }
                checked[0]++;
            });
            b.copyFromSlot(1, true);
            rec.listener(null);
            assertThat(checked[0]).isGreaterThanOrEqualTo(4);
        }
    }

    @Test
    void failingToPersistOurCopyLeavesTheSourceAlone() throws Exception {
        Fixtures.cleanArea(storage);
        dirtyInSlot(2, 5);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            storage.failFlushes(new IOException("EIO"));
            assertThatThrownBy(() -> b.copyFromSlot(2, true))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.STORAGE));
            storage.failFlushes(null);
            assertThat(storage.bit(2 * 4096, 5)).isTrue();
        }
    }

    @Test
    void badSlotsAreRefused() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            assertThatThrownBy(() -> b.copyFromSlot(0, true))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.SLOT_RANGE));
            assertThatThrownBy(() -> b.copyFromSlot(4, true))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.SLOT_RANGE));
            ByteBuffer page = BitmapStorage.allocate(4096);
            storage.read(3 * 4096, page);
            page.putLong(SuperblockCodec.OFF_SYNC_SIZE, 4096);
            storage.write(3 * 4096, page.clear());
            assertThatThrownBy(() -> b.copyFromSlot(3, true))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.field()).contains(Field.SYNC_SIZE))
                    .hasMessageContaining("leg0 slot 3");
        }
    }
}
