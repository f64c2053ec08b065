package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.clustermd.bitmap.Fixtures.CHUNK_SECTORS;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.io.IOException;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class WriteIntentBitmapTest {
    final ManualClock clock = new ManualClock();
    final MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);

    WriteIntentBitmap openSlot(int slot) throws BitmapException {
        return WriteIntentBitmap.open(storage, slot, manual(clock));
    }

    @Test
    void startWriteMakesTheBitDurableInOurSlotOnly() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(2)) {
            long before = storage.flushes();
            b.startWrite(sector(5) + 3, 2);
            assertThat(storage.flushes()).isEqualTo(before + 1);
            assertThat(storage.bit(2 * 4096, 5)).isTrue();
            assertThat(storage.bit(0, 5)).isFalse();
            assertThat(storage.bit(2 * 4096, 4)).isFalse();
            assertThat(b.chunk(5)).isEqualTo(new ChunkInfo(5, 1, false, false, true, true));
            b.endWrite(sector(5) + 3, 2, true);
            assertThat(b.chunk(5).pendingWrites()).isZero();
            assertThat(b.chunk(5).durable()).isTrue();
        }
    }

    @Test
    void aDurableBitCostsNoIo() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            b.startWrite(sector(9), 8);
            long writes = storage.writes();
            long flushes = storage.flushes();
            for (int i = 0; i < 1000; i++) {
                b.startWrite(sector(9) + (i % 8), 1);
                b.endWrite(sector(9) + (i % 8), 1, true);
            }
            assertThat(storage.writes()).isEqualTo(writes);
            assertThat(storage.flushes()).isEqualTo(flushes);
            b.endWrite(sector(9), 8, true);
        }
    }

    @Test
    void aWriteAcrossChunksSetsEveryBit() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(1)) {
            b.startWrite(sector(10) + 4, 3 * CHUNK_SECTORS);
            for (int c = 10; c <= 13; c++)
                assertThat(storage.bit(4096, c)).as("chunk %d", c).isTrue();
            assertThat(storage.bit(4096, 14)).isFalse();
            assertThat(storage.flushes()).isEqualTo(2); // create + one round
            b.endWrite(sector(10) + 4, 3 * CHUNK_SECTORS, true);
        }
    }

    /** Lazy clearing: between 2 and 3 daemon_sleep periods after the last write ended. */
    @ParameterizedTest(name = "write ends {0} ms after open")
    @ValueSource(longs = {0, 100, 2500, 4900, 5000, 5100, 9999})
    void cleanChunkIsClearedBetweenTwoAndThreeDaemonPeriods(long offsetMillis) throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            clock.advanceMillis(offsetMillis);
            b.daemonWork();
            b.startWrite(sector(3), 8);
            b.endWrite(sector(3), 8, true);
            long ended = clock.millis();
            long clearedAt = -1;
            for (int step = 0; step < 200 && clearedAt < 0; step++) {
                clock.advanceMillis(100);
                b.daemonWork();
                if (!storage.bit(0, 3)) clearedAt = clock.millis();
            }
            assertThat(clearedAt - ended).as("cleared after").isBetween(10_000L, 15_000L);
            assertThat(b.chunk(3).bitSet()).isFalse();
            assertThat(b.stats().bitsCleared()).isEqualTo(1);
        }
    }

    @Test
    void aWriteDuringTheIdlePeriodRestartsIt() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            b.startWrite(sector(3), 8);
            b.endWrite(sector(3), 8, true);
            Fixtures.runDaemonFor(b, clock, 9_000);
            b.startWrite(sector(3), 8);
            b.endWrite(sector(3), 8, true);
            Fixtures.runDaemonFor(b, clock, 9_000);
            assertThat(storage.bit(0, 3)).isTrue();
            Fixtures.runDaemonFor(b, clock, 7_000);
            assertThat(storage.bit(0, 3)).isFalse();
        }
    }

    @Test
    void aPendingWriteIsNeverCleared() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            b.startWrite(sector(7), 8);
            Fixtures.runDaemonFor(b, clock, 60_000);
            assertThat(storage.bit(0, 7)).isTrue();
            b.endWrite(sector(7), 8, true);
            Fixtures.runDaemonFor(b, clock, 16_000);
            assertThat(storage.bit(0, 7)).isFalse();
        }
    }

    @Test
    void aClearedBitIsSetAgainBeforeTheNextWriteProceeds() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            b.startWrite(sector(7), 8);
            b.endWrite(sector(7), 8, true);
            Fixtures.runDaemonFor(b, clock, 16_000);
            assertThat(storage.bit(0, 7)).isFalse();
            b.startWrite(sector(7), 8);
            assertThat(storage.bit(0, 7)).isTrue();
            b.endWrite(sector(7), 8, true);
        }
    }

    @Test
    void unbalancedEndWriteIsRefused() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            b.startWrite(sector(1), 8);
            b.endWrite(sector(1), 8, true);
            assertThatThrownBy(() -> b.endWrite(sector(1), 8, true))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("underflow");
            assertThatThrownBy(() -> b.startWrite(16384, 1)).isInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> b.startWrite(0, 0)).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void storageFailureRefusesTheWriteAndCountsNothing() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            storage.failFlushes(new IOException("EIO on every leg"));
            assertThatThrownBy(() -> b.startWrite(sector(4), 16))
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.STORAGE))
                    .hasMessageContaining("must not be issued")
                    .hasRootCauseMessage("EIO on every leg");
            assertThat(b.chunk(4).pendingWrites()).isZero();
            assertThat(b.chunk(4).durable()).isFalse();
            storage.failFlushes(null);
            b.startWrite(sector(4), 16); // the retry carries the bits again
            assertThat(storage.bit(0, 4)).isTrue();
            assertThat(storage.bit(0, 5)).isTrue();
            b.endWrite(sector(4), 16, true);
        }
    }

    @Test
    void loadedBitsAreNeededAndSurviveUntilResynced() throws Exception {
        Fixtures.cleanArea(storage);
        WriteIntentBitmap crashed = openSlot(0);
        crashed.startWrite(sector(12), 8); // the node dies with this write in flight
        try (WriteIntentBitmap b = openSlot(0)) {
            assertThat(b.chunk(12).needed()).isTrue();
            assertThat(b.nextNeeded(0)).isEqualTo(sector(12));
            Fixtures.runDaemonFor(b, clock, 30_000);
            assertThat(storage.bit(0, 12)).isTrue();
        }
    }

    @Test
    void cleanArrayLoadsBitsAsDirtyButNotNeeded() throws Exception {
        Fixtures.cleanArea(storage);
        WriteIntentBitmap crashed = openSlot(0);
        crashed.startWrite(sector(12), 8);
        BitmapOptions clean = BitmapOptions.builder()
                .clock(clock)
                .startDaemon(false)
                .recoveryCp(Long.MAX_VALUE)
                .build();
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, clean)) {
            assertThat(b.chunk(12).needed()).isFalse();
            assertThat(b.chunk(12).durable()).isTrue();
            Fixtures.runDaemonFor(b, clock, 16_000);
            assertThat(storage.bit(0, 12)).isFalse();
        }
    }

    @Test
    void staleBitmapIsRewrittenAllDirtyThenUnmarked() throws Exception {
        BitmapArea.create(storage, Fixtures.fourNodes().withState(BitmapSuperblock.STATE_STALE), true);
        try (WriteIntentBitmap b = openSlot(1)) {
            assertThat(b.neededChunks()).isEqualTo(2048);
            assertThat(b.superblock().stale()).isFalse();
            SlotSummary s = BitmapArea.read(storage).examine(1);
            assertThat(s.dirtyChunks()).isEqualTo(2048);
            assertThat(s.superblock().stale()).isFalse();
        }
    }

    @Test
    void eventsAreKeptAsMdKeepsThem() throws Exception {
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = openSlot(0)) {
            b.updateSuperblock(10);
            assertThat(BitmapArea.read(storage).examine(0).superblock().events())
                    .isEqualTo(10);
            assertThat(b.eventsCleared()).isZero();
            b.startWrite(sector(2), 8);
            b.endWrite(sector(2), 8, true);
            assertThat(b.eventsCleared()).isEqualTo(10);
            // events_cleared reaches disk at the next daemon pass, before any bit is cleared
            clock.advanceMillis(5_000);
            b.daemonWork();
            SlotSummary s = BitmapArea.read(storage).examine(0);
            assertThat(s.superblock().eventsCleared()).isEqualTo(10);
            assertThat(s.dirtyChunks()).isEqualTo(1);
            // events going back (md: "rocking back to read-only") pull events_cleared along
            b.updateSuperblock(8);
            assertThat(b.eventsCleared()).isEqualTo(8);
            // a failed write does not move events_cleared
            b.updateSuperblock(12);
            b.startWrite(sector(3), 8);
            b.endWrite(sector(3), 8, false);
            assertThat(b.eventsCleared()).isEqualTo(8);
        }
    }

    @Test
    void closeClearsIdleBitsButKeepsNeededOnes() throws Exception {
        Fixtures.cleanArea(storage);
        WriteIntentBitmap b = openSlot(3);
        b.startWrite(sector(1), 8);
        b.endWrite(sector(1), 8, true);
        b.startWrite(sector(2), 8);
        b.endWrite(sector(2), 8, false);
        b.close();
        b.close();
        assertThat(storage.bit(3 * 4096, 1)).isFalse();
        assertThat(storage.bit(3 * 4096, 2)).isTrue();
        assertThatThrownBy(() -> b.startWrite(sector(1), 8))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.CLOSED));
    }

    @Test
    void aFencedBitmapSaysFencedAndStaysFencedThroughClose() throws Exception {
        Fixtures.cleanArea(storage);
        WriteIntentBitmap b = openSlot(3);
        b.fence();
        b.close();
        assertThatThrownBy(() -> b.startWrite(sector(1), 8)).isInstanceOfSatisfying(BitmapException.class, e -> {
            assertThat(e.code()).isEqualTo(Code.CLOSED);
            assertThat(e.getMessage()).contains("bitmap is fenced").doesNotContain("closed");
        });
        assertThat(storage.bit(3 * 4096, 1)).isFalse();
    }

    @Test
    void theDaemonThreadIsNamedAndStopsOnClose() throws Exception {
        Fixtures.cleanArea(storage);
        WriteIntentBitmap b = WriteIntentBitmap.open(
                storage, 0, BitmapOptions.builder().name("md7").build());
        assertThat(Thread.getAllStackTraces().keySet())
                .anyMatch(t -> t.getName().equals("bitmap-flush-md7"));
        b.close();
        assertThat(Thread.getAllStackTraces().keySet())
                .noneMatch(t -> t.getName().equals("bitmap-flush-md7"));
    }

    @Test
    void theDaemonThreadClearsOnItsOwn() throws Exception {
        BitmapArea.create(storage, Fixtures.fourNodes().withDaemonSleep(1), true);
        ManualClock fast = new ManualClock();
        try (WriteIntentBitmap b = WriteIntentBitmap.open(
                storage, 0, BitmapOptions.builder().name("md8").clock(fast).build())) {
            b.startWrite(sector(6), 8);
            b.endWrite(sector(6), 8, true);
            // the thread sleeps in bounded steps, so a jumping clock is noticed without a real wait
            for (int i = 0; i < 600 && storage.bit(0, 6); i++) {
                fast.advanceMillis(500);
                Thread.sleep(10);
            }
            assertThat(storage.bit(0, 6)).isFalse();
        }
    }

    @Test
    void daemonFailuresReachTheListenerAndBitsStaySet() throws Exception {
        BitmapArea.create(storage, Fixtures.fourNodes().withDaemonSleep(1), true);
        ManualClock fast = new ManualClock();
        java.util.concurrent.BlockingQueue<Throwable> told = new java.util.concurrent.LinkedBlockingQueue<>();
        try (WriteIntentBitmap b = WriteIntentBitmap.open(
                storage,
                0,
                BitmapOptions.builder()
                        .name("md9")
                        .clock(fast)
                        .daemonFailureListener(told::add)
                        .build())) {
            b.startWrite(sector(6), 8);
            b.endWrite(sector(6), 8, true);
            storage.failWrites(new IOException("EIO while clearing"));
            Throwable first = null;
            for (int i = 0; i < 600 && first == null; i++) {
                fast.advanceMillis(500);
                first = told.poll(10, java.util.concurrent.TimeUnit.MILLISECONDS);
            }
            assertThat(first)
                    .isInstanceOfSatisfying(
                            BitmapException.class, e -> assertThat(e.code()).isEqualTo(Code.STORAGE));
            assertThat(storage.bit(0, 6)).isTrue();
            storage.failWrites(null);
        }
    }
}
