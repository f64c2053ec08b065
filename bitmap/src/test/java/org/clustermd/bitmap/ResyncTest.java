package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.util.List;
import java.util.UUID;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** startSync / endSync / condEndSync / closeSync / syncWithCluster, md's resync side. */
class ResyncTest {
    final ManualClock clock = new ManualClock();
    final MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
    WriteIntentBitmap b;

    @BeforeEach
    void open() throws Exception {
        Fixtures.cleanArea(storage);
        b = WriteIntentBitmap.open(storage, 0, manual(clock));
    }

    private void fail(int... chunks) throws BitmapException {
        for (int c : chunks) {
            b.startWrite(sector(c), 8);
            b.endWrite(sector(c), 8, false);
        }
    }

    @Test
    void startSyncReportsTheChunkAndMovesNeededToResync() throws Exception {
        fail(4);
        SyncChunk clean = b.startSync(sector(3), false);
        assertThat(clean).isEqualTo(new SyncChunk(sector(3), 8, false));
        // like md, an answer covers at least a page (8 sectors): from mid-chunk it runs into chunk 4
        SyncChunk across = b.startSync(sector(3) + 2, false);
        assertThat(across).isEqualTo(new SyncChunk(sector(3) + 2, 14, true));
        SyncChunk dirty = b.startSync(sector(4), false);
        assertThat(dirty).isEqualTo(new SyncChunk(sector(4), 8, true));
        assertThat(b.chunk(4).needed()).isFalse();
        assertThat(b.chunk(4).resyncing()).isTrue();
        assertThat(b.startSync(sector(4), false).needsSync())
                .as("still resyncing")
                .isTrue();
        assertThat(b.endSync(sector(4) + 1, false)).isEqualTo(7);
        assertThat(b.chunk(4).resyncing()).isFalse();
        assertThat(b.chunk(4).needed()).isFalse();
        Fixtures.runDaemonFor(b, clock, 16_000);
        assertThat(storage.bit(0, 4)).isFalse();
    }

    @Test
    void degradedStartSyncChangesNothing() throws Exception {
        fail(4);
        assertThat(b.startSync(sector(4), true).needsSync()).isTrue();
        assertThat(b.chunk(4).needed()).isTrue();
        assertThat(b.chunk(4).resyncing()).isFalse();
    }

    @Test
    void abortedSyncMakesTheChunkNeededAgain() throws Exception {
        fail(6);
        b.startSync(sector(6), false);
        b.endSync(sector(6), true);
        assertThat(b.chunk(6).needed()).isTrue();
        Fixtures.runDaemonFor(b, clock, 60_000);
        assertThat(storage.bit(0, 6)).isTrue();
    }

    @Test
    void aWriteFailingDuringResyncKeepsTheChunkNeeded() throws Exception {
        fail(6);
        b.startSync(sector(6), false);
        fail(6);
        b.endSync(sector(6), false);
        assertThat(b.chunk(6).needed()).isTrue();
    }

    @Test
    void smallChunksAreReportedAPageAtATime() throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("small", 16 * 1024);
        BitmapArea.create(s, BitmapSuperblock.clustered(UUID.randomUUID(), 1000, 512, 2, "c"), true);
        try (WriteIntentBitmap small = WriteIntentBitmap.open(s, 0, manual(clock))) {
            small.startWrite(5, 1);
            small.endWrite(5, 1, false);
            SyncChunk sc = small.startSync(0, false);
            assertThat(sc.sectors()).isEqualTo(8); // md covers at least PAGE_SIZE >> 9 sectors
            assertThat(sc.needsSync()).isTrue();
            assertThat(small.startSync(996, false).sectors()).isEqualTo(4); // clipped at the end
        }
    }

    @Test
    void closeSyncEndsEveryRunningChunk() throws Exception {
        fail(1, 2, 3);
        for (int c = 1; c <= 3; c++) b.startSync(sector(c), false);
        b.closeSync();
        for (int c = 1; c <= 3; c++) {
            assertThat(b.chunk(c).resyncing()).isFalse();
            assertThat(b.chunk(c).needed()).isFalse();
        }
        assertThat(b.neededChunks()).isZero();
    }

    @Test
    void condEndSyncCheckpointsOncePerDaemonPeriod() throws Exception {
        fail(1, 2, 3, 4);
        assertThat(b.condEndSync(0, false)).isFalse();
        for (int c = 1; c <= 4; c++) b.startSync(sector(c), false);
        assertThat(b.condEndSync(sector(3) + 4, false)).as("too early").isFalse();
        clock.advanceMillis(5_000);
        assertThat(b.condEndSync(sector(3) + 4, false)).isTrue();
        // chunks wholly below the sector end; chunk 3 holds the sector and keeps running
        assertThat(b.chunk(1).resyncing()).isFalse();
        assertThat(b.chunk(2).resyncing()).isFalse();
        assertThat(b.chunk(3).resyncing()).isTrue();
        assertThat(b.condEndSync(sector(5), true)).isTrue();
        assertThat(b.chunk(4).resyncing()).isFalse();
    }

    @Test
    void syncWithClusterFollowsTheRemoteWindow() throws Exception {
        fail(0, 1, 2, 3, 4, 5);
        b.syncWithCluster(SectorRange.EMPTY, new SectorRange(0, sector(3)));
        for (int c = 0; c < 3; c++)
            assertThat(b.chunk(c).resyncing())
                    .as("chunk %d being synced remotely", c)
                    .isTrue();
        assertThat(b.chunk(3).needed()).isTrue();
        b.syncWithCluster(new SectorRange(0, sector(3)), new SectorRange(sector(2), sector(5)));
        assertThat(b.chunk(0).resyncing() || b.chunk(0).needed())
                .as("synced remotely")
                .isFalse();
        assertThat(b.chunk(1).resyncing() || b.chunk(1).needed()).isFalse();
        assertThat(b.chunk(2).resyncing()).isTrue();
        assertThat(b.chunk(4).resyncing()).isTrue();
        assertThat(b.chunk(5).needed()).isTrue();
        assertThat(b.neededRanges()).isEqualTo(List.of(new SectorRange(sector(2), sector(6))));
    }

    @Test
    void iterationFindsNeededChunksInOrder() throws Exception {
        fail(7, 9, 10, 2000);
        assertThat(b.nextNeeded(0)).isEqualTo(sector(7));
        assertThat(b.nextNeeded(sector(8))).isEqualTo(sector(9));
        assertThat(b.nextNeeded(sector(11))).isEqualTo(sector(2000));
        assertThat(b.nextNeeded(sector(2001))).isEqualTo(-1);
        assertThat(b.neededRanges())
                .containsExactly(
                        new SectorRange(sector(7), sector(8)),
                        new SectorRange(sector(9), sector(11)),
                        new SectorRange(sector(2000), sector(2001)));
        assertThat(b.neededChunks()).isEqualTo(4);
        assertThat(b.dirtyChunks()).isEqualTo(4);
    }
}
