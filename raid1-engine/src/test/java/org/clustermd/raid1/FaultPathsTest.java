package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import org.clustermd.bitmap.SectorRange;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The write and read paths under injected EIO on each leg: a failing leg is failed and recorded
 * before the write is acknowledged, the array carries on degraded, failed and degraded writes
 * keep their bits (docs/lessons.md §28, docs/lessons.md §30), read errors are repaired from the other leg, and a re-add
 * recovers exactly the chunks written meanwhile (figure P10 = 1.00).
 */
class FaultPathsTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(60));
    private static final long CHUNK = 1 << 20;
    private static final long CHUNK_SECTORS = CHUNK / 512;

    @TempDir
    Path dir;

    private TestLegs legs;
    private final ManualClock clock = new ManualClock();

    @AfterEach
    void tearDown() throws Exception {
        if (legs != null) legs.close();
    }

    private Raid1Array array(int n) throws Exception {
        legs = new TestLegs(dir, n, 40L << 20)
                .create(CreateOptions.builder("md-fault")
                        .assumeClean(true)
                        .bitmapChunk(CHUNK)
                        .sizeBytes((38L << 20) + (1 << 19))
                        .build()); // the last chunk is half a chunk
        return legs.assembleFaulty(ArrayOptions.builder()
                .bitmapClock(clock)
                .bitmapDaemon(false)
                .syncSpeedMax(10_000_000)
                .build());
    }

    private long dataOffsetSectors() {
        return legs.created.dataOffset();
    }

    /** Runs enough daemon passes that every idle, clean chunk would have its bit cleared. */
    private static void decay(WriteIntentBitmap b, ManualClock clock) throws Exception {
        for (int i = 0; i < 5; i++) {
            clock.advance(Duration.ofSeconds(6));
            b.daemonWork();
        }
    }

    private static ByteBuffer stamped(long offset, int blocks, long id) {
        ByteBuffer b = AlignedBuffers.allocate(blocks * 4096);
        for (int i = 0; i < blocks; i++) StampedBlock.stamp(b, i * 4096, offset + i * 4096L, 1, id);
        return b;
    }

    @ParameterizedTest(name = "leg {0}")
    @ValueSource(ints = {0, 1})
    void aWriteErrorFailsThatLegAndTheWriteStillSucceedsOnTheOther(int bad) throws Exception {
        Raid1Array a = array(2);
        WriteIntentBitmap bitmap = a.bitmap().orElseThrow();
        FaultInjectingBlockDevice f = legs.faults.get(bad);
        String badName = f.name();
        long sector = 5 * CHUNK_SECTORS + 16;
        long eventsBefore = a.events();
        f.failWrites(dataOffsetSectors() + sector, dataOffsetSectors() + sector + 16);

        a.write(sector * 512, stamped(sector * 512, 2, 1));

        Mirror m = a.mirrors().byName(badName).orElseThrow();
        assertThat(m.state()).isEqualTo(MirrorState.FAULTY);
        assertThat(a.degraded()).isEqualTo(1);
        Superblock good = Examiner.examine(legs.paths.get(1 - bad)).superblock();
        assertThat(good.devRole(m.devNumber()))
                .as("recorded before the write was acknowledged")
                .isEqualTo(Superblock.ROLE_FAULTY);
        assertThat(good.events()).isGreaterThan(eventsBefore);

        // the failed write and a degraded write keep their bits through any number of daemon passes
        a.write(20 * CHUNK_SECTORS * 512, AlignedBuffers.allocate(4096));
        decay(bitmap, clock);
        assertThat(bitmap.chunk(5).bitSet())
                .as("docs/lessons.md §28: failed write keeps its bit")
                .isTrue();
        assertThat(bitmap.chunk(5).needed()).isTrue();
        assertThat(bitmap.chunk(20).bitSet())
                .as("docs/lessons.md §30: degraded write keeps its bit")
                .isTrue();
        assertThat(bitmap.chunk(20).needed()).isTrue();

        // reads are served by the good leg
        ByteBuffer back = AlignedBuffers.allocate(8192);
        a.read(sector * 512, back);
        assertThat(StampedBlock.read(back, 0, sector * 512).writeId()).isEqualTo(1);
        assertThat(a.stats().inFlight()).isZero();
    }

    @Test
    void reAddAfterDegradedWritesRecoversExactlyTheDirtyChunks() throws Exception {
        Raid1Array a = array(2);
        WriteIntentBitmap bitmap = a.bitmap().orElseThrow();
        WriteLedger ledger = new WriteLedger();
        Workload.builder(BlockTarget.of(a), ledger)
                .seed(3)
                .queueDepth(8)
                .flushEvery(0)
                .fuaPercent(0)
                .build()
                .run(200);
        decay(bitmap, clock);
        assertThat(bitmap.dirtyChunks()).as("bits of a healthy array decay").isZero();

        String leg1 = legs.faults.get(1).name();
        a.failDevice(leg1);
        assertThat(a.degraded()).isEqualTo(1);
        // writes while degraded: a few chunks, one of them the array's last (partial) chunk
        long size = a.sizeSectors();
        long[] sectors = {0, 3 * CHUNK_SECTORS + 8, 3 * CHUNK_SECTORS + 104, 11 * CHUNK_SECTORS, size - 8};
        long id = 1000;
        for (long s : sectors) {
            ledger.issued(s * 512, 1, ++id);
            a.write(s * 512, stamped(s * 512, 1, id));
            ledger.acknowledged(s * 512, 1, id, false);
        }
        decay(bitmap, clock);
        long expected = 0;
        for (long c : java.util.stream.LongStream.of(sectors)
                .map(x -> x / CHUNK_SECTORS)
                .distinct()
                .toArray()) {
            expected += Math.min((c + 1) * CHUNK_SECTORS, size) - c * CHUNK_SECTORS;
        }
        long needed = 0;
        for (SectorRange r : bitmap.neededRanges()) needed += r.sectors();
        assertThat(bitmap.neededChunks()).isEqualTo(4);
        assertThat(needed).isEqualTo(expected).isEqualTo(3 * CHUNK_SECTORS + CHUNK_SECTORS / 2);

        a.reAddDevice(leg1);
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(r.completed()).isTrue();
        assertThat(r.sectorsCopied())
                .as("P10: bytes recovered / dirty chunks = 1.00")
                .isEqualTo(expected);
        assertThat(a.degraded()).isZero();
        assertThat(a.mirrors().byName(leg1).orElseThrow().state()).isEqualTo(MirrorState.IN_SYNC);
        assertThat(Verifier.verify(BlockTarget.of(a), ledger, false).problems()).isEmpty();
        decay(bitmap, clock);
        assertThat(bitmap.dirtyChunks()).as("recovered chunks decay").isZero();
        a.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    @Test
    void noWriteIsAcknowledgedWhileAFailedLegIsNotYetRecordedAsFaulty() throws Exception {
        Raid1Array a = array(2);
        FaultInjectingBlockDevice first = legs.faults.get(0);
        FaultInjectingBlockDevice second = legs.faults.get(1);
        second.failWrites(8, 16); // the superblock: the failure of leg 0 cannot be recorded
        first.failAllWrites(true);
        assertThatThrownBy(() -> a.write(0, AlignedBuffers.allocate(4096))).isInstanceOf(Raid1Exception.class);
        assertThat(a.mirrors().byName(first.name()).orElseThrow().state()).isEqualTo(MirrorState.FAULTY);
        // this write reaches only leg 1, which the legs' superblocks cannot yet tell from leg 0
        assertThatThrownBy(() -> a.write(4096, AlignedBuffers.allocate(4096)))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.IO_ERROR));
        second.clearFaults();
        a.write(8192, AlignedBuffers.allocate(4096));
        int dev0 = a.mirrors().byName(first.name()).orElseThrow().devNumber();
        assertThat(Examiner.examine(legs.paths.get(1)).superblock().devRole(dev0))
                .isEqualTo(Superblock.ROLE_FAULTY);
        assertThat(a.stats().inFlight()).isZero();
    }

    @Test
    void aRecoveryThatCannotReadItsSourceNeverSkipsTheChunk() throws Exception {
        Raid1Array a = array(2);
        WriteIntentBitmap bitmap = a.bitmap().orElseThrow();
        String leg1 = legs.faults.get(1).name();
        a.failDevice(leg1);
        long dirty = 6 * CHUNK_SECTORS;
        a.write(dirty * 512, stamped(dirty * 512, 1, 77));
        a.write(12 * CHUNK_SECTORS * 512, stamped(12 * CHUNK_SECTORS * 512, 1, 78));
        FaultInjectingBlockDevice source = legs.faults.get(0);
        long s = dataOffsetSectors() + dirty;
        source.failReads(s, s + CHUNK_SECTORS);
        a.reAddDevice(leg1);
        SyncReport failed = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(failed.completed()).isFalse();
        assertThat(failed.endSector())
                .as("progress stops before the chunk it could not copy")
                .isLessThanOrEqualTo(dirty);
        Mirror m = a.mirrors().byName(leg1).orElseThrow();
        assertThat(m.recoveryOffset()).isLessThanOrEqualTo(dirty);
        assertThat(bitmap.chunk(6).needed())
                .as("the chunk still needs its copy")
                .isTrue();
        assertThat(a.syncControl().syncDisabled()).as("not retried in a loop").isPresent();
        source.clearFaults();
        a.syncAction(SyncAction.RECOVER);
        SyncReport done = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(done.completed()).isTrue();
        a.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    @Test
    void theLastInSyncLegIsNeverFailedButItsErrorsReachTheCaller() throws Exception {
        Raid1Array a = array(2);
        a.failDevice(legs.faults.get(1).name());
        String last = legs.faults.get(0).name();
        assertThatThrownBy(() -> a.failDevice(last))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY));
        legs.faults.get(0).failWrites(dataOffsetSectors(), dataOffsetSectors() + 64);
        assertThatThrownBy(() -> a.write(0, AlignedBuffers.allocate(4096)))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.IO_ERROR));
        assertThat(a.mirrors().byName(last).orElseThrow().state()).isEqualTo(MirrorState.IN_SYNC);
        legs.faults.get(0).clearFaults();
        a.write(0, AlignedBuffers.allocate(4096));
        assertThat(a.stats().inFlight()).isZero();
    }

    @Test
    void aReadErrorIsServedFromTheOtherLegAndRepaired() throws Exception {
        Raid1Array a = array(2);
        long off = 7 * CHUNK;
        a.write(off, stamped(off, 4, 9));
        FaultInjectingBlockDevice first = legs.faults.get(0);
        a.writeMostly(legs.faults.get(1).name(), true); // reads go to leg 0
        first.failNextReads(1);
        ByteBuffer back = AlignedBuffers.allocate(4 * 4096);
        a.read(off, back);
        assertThat(StampedBlock.read(back, 3 * 4096, off + 3 * 4096).writeId()).isEqualTo(9);
        Mirror m = a.mirrors().byName(first.name()).orElseThrow();
        assertThat(m.state()).isEqualTo(MirrorState.IN_SYNC);
        assertThat(m.correctedReads()).isEqualTo(1);
        assertThat(m.errors()).isEqualTo(1);
    }

    @Test
    void aLegThatCannotBeRepairedIsFailedAndTheReadStillSucceeds() throws Exception {
        Raid1Array a = array(2);
        long off = 9 * CHUNK;
        a.write(off, stamped(off, 1, 4));
        FaultInjectingBlockDevice first = legs.faults.get(0);
        a.writeMostly(legs.faults.get(1).name(), true);
        long s = dataOffsetSectors() + off / 512;
        first.failReads(s, s + 8);
        first.failWrites(s, s + 8);
        ByteBuffer back = AlignedBuffers.allocate(4096);
        a.read(off, back);
        assertThat(StampedBlock.read(back, 0, off).writeId()).isEqualTo(4);
        assertThat(a.mirrors().byName(first.name()).orElseThrow().state()).isEqualTo(MirrorState.FAULTY);
    }

    @Test
    void whenNoLegCanReadTheCallerGetsAnErrorAndNoLegIsFailed() throws Exception {
        Raid1Array a = array(2);
        long s = dataOffsetSectors() + 64;
        for (FaultInjectingBlockDevice f : legs.faults) f.failReads(s, s + 8);
        assertThatThrownBy(() -> a.read(64 * 512, AlignedBuffers.allocate(4096)))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.IO_ERROR));
        assertThat(a.degraded()).isZero();
        assertThat(a.stats().inFlight()).isZero();
    }

    @Test
    void aFlushThatFailsOnALegFailsThatLegOnly() throws Exception {
        Raid1Array a = array(2);
        a.write(0, AlignedBuffers.allocate(4096));
        long before0 = legs.faults.get(0).stats().flushesCompleted();
        a.flush();
        assertThat(legs.faults.get(0).stats().flushesCompleted())
                .as("a flush reaches every leg")
                .isGreaterThan(before0);
        legs.faults.get(1).failFlushes(true);
        a.flush();
        assertThat(a.mirrors().byName(legs.faults.get(1).name()).orElseThrow().state())
                .isEqualTo(MirrorState.FAULTY);
        a.write(4096, AlignedBuffers.allocate(4096), true);
    }
}
