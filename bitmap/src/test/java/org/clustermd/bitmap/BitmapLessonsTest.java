package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.bitmap.testing.CrashRecordingStorage;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;

/** The write-intent bitmap lessons docs/lessons.md §27, docs/lessons.md §28, docs/lessons.md §29, docs/lessons.md §30 and docs/lessons.md §17. */
class BitmapLessonsTest {
    final ManualClock clock = new ManualClock();

    @Test
    void lesson27_coveringBitIsDurableBeforeStartWriteReturns() throws Exception {
        CrashRecordingStorage storage = new CrashRecordingStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 1, manual(clock))) {
            for (int c : new int[] {0, 17, 2047}) {
                b.startWrite(sector(c), 8);
                // what a power cut right now would leave: the flushed image only
                assertThat(MemoryBitmapStorage.testBit(storage.durableImage(), 4096, c))
                        .as("chunk %d", c)
                        .isTrue();
                b.endWrite(sector(c), 8, true);
            }
        }
    }

    @Test
    void lesson28_failedLegWriteKeepsItsBitUntilResynced() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            b.startWrite(sector(40), 8);
            b.startWrite(sector(40), 8);
            b.endWrite(sector(40), 8, true);
            b.endWrite(sector(40), 8, false); // one leg failed this write
            Fixtures.runDaemonFor(b, clock, 120_000);
            assertThat(storage.bit(0, 40)).isTrue();
            assertThat(b.chunk(40).needed()).isTrue();
            SyncChunk sc = b.startSync(sector(40), false);
            assertThat(sc.needsSync()).isTrue();
            b.endSync(sector(40), false);
            Fixtures.runDaemonFor(b, clock, 16_000);
            assertThat(storage.bit(0, 40)).isFalse();
        }
    }

    @Test
    void lesson29_aPageBeingWrittenIsNeverModified() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            AtomicReference<byte[]> seen = new AtomicReference<>();
            AtomicReference<byte[]> after = new AtomicReference<>();
            AtomicReference<CompletableFuture<Void>> other = new AtomicReference<>();
            storage.onWrite((offset, data) -> {
                if (seen.get() != null) return;
                byte[] copy = new byte[data.remaining()];
                data.duplicate().get(copy);
                seen.set(copy);
                // while this page is being written, another writer sets a bit on the same page
                other.set(CompletableFuture.runAsync(() -> {
                    try {
                        b.startWrite(sector(3), 8);
                    } catch (BitmapException e) {
                        throw new IllegalStateException(e);
                    }
                }));
                while (b.registeredForNextRound() < 1) Thread.onSpinWait();
                byte[] again = new byte[data.remaining()];
                data.duplicate().get(again);
                after.set(again);
            });
            b.startWrite(sector(2), 8);
            other.get().get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(after.get()).isEqualTo(seen.get());
            assertThat(MemoryBitmapStorage.testBit(seen.get(), 0, 3)).isFalse();
            assertThat(storage.bit(0, 2)).isTrue();
            assertThat(storage.bit(0, 3)).isTrue();
            assertThat(Arrays.equals(after.get(), seen.get())).isTrue();
        }
    }

    @Test
    void lesson30_writesOnADegradedArrayKeepTheirBitsUntilTheLegIsBack() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            b.startWrite(sector(8), 8);
            b.endWrite(sector(8), 8, true); // before the failure: decays normally ...
            b.setDegraded(true);
            b.startWrite(sector(9), 8);
            b.endWrite(sector(9), 8, true); // the engine says "all legs", but one is missing
            Fixtures.runDaemonFor(b, clock, 120_000);
            assertThat(storage.bit(0, 8)).as("no bit is cleared while degraded").isTrue();
            assertThat(storage.bit(0, 9)).isTrue();
            assertThat(b.chunk(9).needed()).isTrue();
            assertThat(b.chunk(8).needed()).isFalse();
            b.setDegraded(false); // the leg is re-added; recovery copies the NEEDED chunks
            Fixtures.runDaemonFor(b, clock, 16_000);
            assertThat(storage.bit(0, 8)).isFalse();
            assertThat(storage.bit(0, 9)).isTrue();
            for (long s = b.nextNeeded(0); s >= 0; s = b.nextNeeded(s)) {
                assertThat(b.startSync(s, false).needsSync()).isTrue();
                b.endSync(s, false);
            }
            Fixtures.runDaemonFor(b, clock, 16_000);
            assertThat(storage.bit(0, 9)).isFalse();
        }
    }

    @Test
    void lesson17_aDeadNodeWhoseOnlyDirtyChunkIsChunkZeroIsFoundDirty() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        WriteIntentBitmap dead = WriteIntentBitmap.open(storage, 3, manual(clock));
        dead.startWrite(0, 1); // dies with this write in flight
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 1, manual(clock))) {
            SlotCopy copy = b.copyFromSlot(3, true);
            assertThat(copy.foundDirty()).isTrue();
            assertThat(copy.dirtyChunks()).isEqualTo(1);
            assertThat(copy.firstDirtyChunk()).isZero();
            assertThat(copy.dirtyRange()).isEqualTo(new SectorRange(0, 8));
            assertThat(b.chunk(0).needed()).isTrue();
        }
    }
}
