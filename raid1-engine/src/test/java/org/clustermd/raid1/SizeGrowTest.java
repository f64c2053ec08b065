package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.awaitility.Awaitility;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mdadm --grow --size on one node: the array grows, the region grown is resynced (whatever the
 * legs held there differs before), writes reach it; a shrink, a size beyond the smallest leg and
 * a grow while a sync runs are refused and change nothing.
 */
class SizeGrowTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(90));
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() {
        if (legs != null) legs.close();
    }

    private Raid1Array assemble(long sizeBytes) throws Exception {
        legs = new TestLegs(dir, 2, 40 * MIB)
                .create(CreateOptions.builder("md-grow")
                        .assumeClean(true)
                        .bitmapChunk(MIB)
                        .raidDevices(2)
                        .sizeBytes(sizeBytes)
                        .build());
        return legs.assemble(ArrayOptions.builder().syncSpeedMax(10_000_000).build());
    }

    @Test
    void theArrayGrowsAndTheRegionGrownIsResynced() throws Exception {
        Raid1Array a = assemble(16 * MIB);
        long old = a.sizeSectors();
        long offset = legs.created.dataOffset() * 512;
        // leg 1 holds something else beyond the old end: only a resync makes the legs agree there
        try (RandomAccessFile f = new RandomAccessFile(legs.paths.get(1).toFile(), "rw")) {
            f.seek(offset + 16 * MIB + 4096);
            f.write(new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        }
        WriteLedger ledger = new WriteLedger();
        write(a, ledger, 1, 200);
        ByteBuffer block = AlignedBuffers.allocate(4096);
        assertThatThrownBy(() -> a.write(16 * MIB, block.clear()))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.OUT_OF_RANGE));

        a.growSize(old + 16 * MIB / 512);

        assertThat(a.sizeSectors()).isEqualTo(old + 16 * MIB / 512);
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RESYNC);
        assertThat(a.recoveryCp()).isEqualTo(Mddev.MAX_SECTOR);
        write(a, ledger, 2, 300); // the workload spreads over the grown array
        a.write(a.size() - 4096, block.clear());
        assertThat(Verifier.verify(BlockTarget.of(a), ledger, false).problems()).isEmpty();
        a.close();
        assertThat(Examiner.examine(legs.paths.get(0)).superblock().size()).isEqualTo(old + 16 * MIB / 512);
        assertThat(Verifier.compareLegs(legs.paths).identical()).isTrue();
    }

    @Test
    void aShrinkATooLargeSizeAndAGrowDuringASyncAreRefusedAndChangeNothing() throws Exception {
        Raid1Array a = assemble(16 * MIB);
        long old = a.sizeSectors();
        long events = a.events();
        List<ThrowingCall> refused = new ArrayList<>();
        refused.add(() -> a.growSize(old - 8));
        refused.add(() -> a.growSize(a.maxSizeSectors() + 8));
        refused.add(() -> a.growSize(old + 1));
        for (ThrowingCall c : refused) {
            assertThatThrownBy(c::run)
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        }
        assertThatThrownBy(() -> a.growSize(old - 8)).hasMessageContaining("shrinking");
        assertThatThrownBy(() -> a.growSize(a.maxSizeSectors() + 8)).hasMessageContaining("smallest leg");
        assertThat(a.events()).isEqualTo(events); // no superblock was written

        a.syncMax(8); // a check that pauses at sector 8 for as long as the test needs it
        a.syncAction(SyncAction.CHECK);
        Awaitility.await("the check runs").atMost(WAIT).until(() -> a.syncAction() == SyncAction.CHECK);
        assertThatThrownBy(() -> a.growSize(old + 8))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY));
        a.syncAction(SyncAction.IDLE);

        assertThat(a.sizeSectors()).isEqualTo(old);
        assertThat(a.bitmap().orElseThrow().geometry().syncSize()).isEqualTo(old);
        a.close();
        assertThat(Examiner.examine(legs.paths.get(0)).superblock().size()).isEqualTo(old);
    }

    @Test
    void maxIsWhatTheSmallestLegsDataAreaHolds() throws Exception {
        Raid1Array a = assemble(16 * MIB);
        long max = a.maxSizeSectors();
        assertThat(max).isEqualTo(legs.created.superblocks().get(0).dataSize() / 8 * 8);
        a.growSize(max);
        assertThat(a.size()).isEqualTo(max * 512);
        a.awaitSyncIdle(WAIT);
        a.close();
        assertThat(Verifier.compareLegs(legs.paths).identical()).isTrue();
    }

    /**
     * docs/lessons.md §49: a peer between METADATA_UPDATED and CHANGE_CAPACITY has the new
     * region NEEDED in its slot but not its size; no pass may start for chunks it cannot reach.
     */
    @Test
    void neededChunksBeyondTheSizeStartNoPass() throws Exception {
        Raid1Array a = assemble(16 * MIB);
        a.quiesce();
        try {
            a.bitmap().orElseThrow().resize(a.sizeSectors() + 8 * MIB / 512); // as a peer's reload prepares it
        } finally {
            a.unquiesce();
        }
        assertThat(a.bitmap().orElseThrow().neededChunks()).isEqualTo(8);
        a.requestRecovery();
        Thread.sleep(Timing.scaled(Duration.ofSeconds(1)).toMillis()); // a pass would have started and ended by now
        assertThat(a.lastSync()).as("no pass ran").isEmpty();
        assertThat(a.syncAction()).isEqualTo(SyncAction.IDLE);
    }

    private static void write(Raid1Array a, WriteLedger ledger, long seed, int n) throws Exception {
        Workload.builder(BlockTarget.of(a), ledger)
                .seed(seed)
                .writer(seed)
                .queueDepth(8)
                .build()
                .run(n);
    }

    @FunctionalInterface
    private interface ThrowingCall {
        void run() throws Exception;
    }
}
