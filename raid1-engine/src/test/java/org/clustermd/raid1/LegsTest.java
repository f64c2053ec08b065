package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Spares, hot add, remove, fail and re-add; assembly's freshness rules with a reason for every
 * kicked leg; a full recovery when the bitmap cannot prove which blocks are stale; recovery
 * resumed from recovery_offset.
 */
class LegsTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(90));
    private static final long CHUNK = 1 << 20;

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() throws Exception {
        if (legs != null) legs.close();
    }

    private static ArrayOptions fast() {
        return ArrayOptions.builder().syncSpeedMax(10_000_000).build();
    }

    private TestLegs legs(int n, int raid, int spares) throws Exception {
        legs = new TestLegs(dir, n, 32L << 20)
                .create(CreateOptions.builder("md-legs")
                        .assumeClean(true)
                        .bitmapChunk(CHUNK)
                        .raidDevices(raid)
                        .spareDevices(spares)
                        .build());
        return legs;
    }

    private WriteLedger write(Raid1Array a, long seed, int n) throws Exception {
        WriteLedger ledger = new WriteLedger();
        Workload.builder(BlockTarget.of(a), ledger)
                .seed(seed)
                .writer(seed)
                .queueDepth(8)
                .build()
                .run(n);
        return ledger;
    }

    @Test
    void aSpareTakesOverAFailedLegAndIsFullyRecovered() throws Exception {
        legs(3, 2, 1);
        Raid1Array a = legs.assemble(fast());
        assertThat(a.mirrors().inState(MirrorState.SPARE)).hasSize(1);
        WriteLedger ledger = write(a, 1, 300);
        String failed = a.mirrors().byDevNumber(1).orElseThrow().name();
        a.failDevice(failed);
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(r.sectorsCopied()).as("a new spare is recovered in full").isEqualTo(a.sizeSectors());
        assertThat(a.degraded()).isZero();
        assertThat(a.mirrors().byDevNumber(2).orElseThrow().state()).isEqualTo(MirrorState.IN_SYNC);
        assertThat(a.mirrors().byDevNumber(2).orElseThrow().role()).isEqualTo(1);
        assertThat(Verifier.verify(BlockTarget.of(a), ledger, false).problems()).isEmpty();
        assertThatThrownBy(() ->
                        a.removeDevice(a.mirrors().byDevNumber(0).orElseThrow().name()))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY));
        a.removeDevice(failed);
        assertThat(a.mirrors().byName(failed)).isEmpty();
        a.close();
        Superblock sb = Examiner.examine(legs.paths.get(0)).superblock();
        assertThat(sb.devRole(1)).as("removed").isEqualTo(Superblock.ROLE_SPARE);
        assertThat(sb.devRole(2)).isEqualTo(1);
        assertThat(Verifier.compareLegs(List.of(legs.paths.get(0), legs.paths.get(2)))
                        .identical())
                .isTrue();
    }

    @Test
    void aHotAddedDeviceRecoversTheMissingRole() throws Exception {
        legs(2, 2, 0);
        Raid1Array a = legs.assemble(fast());
        WriteLedger ledger = write(a, 2, 200);
        String gone = a.mirrors().byDevNumber(1).orElseThrow().name();
        a.failDevice(gone);
        a.removeDevice(gone);
        Path extra = TestLegs.file(dir.resolve("extra"), 32L << 20);
        a.addDevice(BlockDevices.open(extra));
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(r.completed()).isTrue();
        assertThat(a.degraded()).isZero();
        Mirror added = a.mirrors().byName(extra.toString()).orElseThrow();
        assertThat(added.state()).isEqualTo(MirrorState.IN_SYNC);
        assertThat(added.devNumber()).as("the freed dev_number is reused").isEqualTo(1);
        assertThat(Verifier.verify(BlockTarget.of(a), ledger, false).problems()).isEmpty();
        a.close();
        assertThat(Verifier.compareLegs(List.of(legs.paths.get(0), extra)).identical())
                .isTrue();
        assertThat(Examiner.examine(extra).deviceRole()).isEqualTo("Active device 1");
    }

    /**
     * A spare whose bitmap area cannot be written and that is not failed for it (the lease hold
     * refuses every write of a fenced array, NOT_ISSUED, and a fenced array fails no leg) is not
     * picked again at once: the md thread spun on it with the reconfig lock held, and the
     * array's close never returned (seen on a cluster node fenced while it admitted a leg).
     */
    @Test
    void aSpareThatCannotTakeTheBitmapAreaAndStaysASpareDoesNotHoldTheMdThread() throws Exception {
        legs(2, 2, 0);
        Raid1Array a = legs.assemble(fast());
        String gone = a.mirrors().byDevNumber(1).orElseThrow().name();
        a.failDevice(gone);
        a.removeDevice(gone);
        Superblock sb;
        try (BlockDevice d = BlockDevices.open(legs.paths.get(0))) {
            sb = SuperblockCodec.read(d);
        }
        long area = (sb.superOffset() + sb.bitmapOffset()) * BlockDevice.SECTOR_SIZE;
        long data = sb.dataOffset() * BlockDevice.SECTOR_SIZE;
        Path extra = TestLegs.file(dir.resolve("extra"), 32L << 20);
        AtomicInteger refused = new AtomicInteger();
        a.addDevice(new ForwardingBlockDevice(BlockDevices.open(extra)) {
            @Override
            public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
                if (offset < area || offset >= data) return inner().writeAsync(offset, src, fua);
                refused.incrementAndGet();
                return CompletableFuture.failedFuture(new BlockDeviceException(
                        BlockDeviceException.Code.NOT_ISSUED, name(), "not issued: the array is fenced"));
            }
        });
        Timing.waitFor("the md thread tried to admit the spare", () -> refused.get() > 0, WAIT);

        CompletableFuture<Void> closed = CompletableFuture.runAsync(a::close);
        closed.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        assertThat(a.mirrors().byName(extra.toString()).orElseThrow().state()).isEqualTo(MirrorState.SPARE);
    }

    @Test
    void raidDisksGrowIntoASpareAndShrinkOnlyOverRolesNoLegHolds() throws Exception {
        legs(3, 2, 1);
        Raid1Array a = legs.assemble(fast());
        WriteLedger ledger = write(a, 3, 200);
        a.growRaidDisks(3);
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(a.raidDisks()).isEqualTo(3);
        assertThat(a.mirrors().byDevNumber(2).orElseThrow().role()).isEqualTo(2);
        assertThat(a.mirrors().byDevNumber(2).orElseThrow().state()).isEqualTo(MirrorState.IN_SYNC);
        assertThat(a.degraded()).isZero();
        assertThatThrownBy(() -> a.growRaidDisks(2))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY))
                .hasMessageContaining("holds role 2");
        assertThatThrownBy(() -> a.growRaidDisks(0))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        String third = a.mirrors().byDevNumber(2).orElseThrow().name();
        a.failDevice(third);
        a.removeDevice(third);
        a.growRaidDisks(2);
        assertThat(a.raidDisks()).isEqualTo(2);
        assertThat(a.degraded()).isZero();
        assertThat(Verifier.verify(BlockTarget.of(a), ledger, false).problems()).isEmpty();
        a.close();
        assertThat(Examiner.examine(legs.paths.get(0)).superblock().raidDisks()).isEqualTo(2);
        assertThat(Verifier.compareLegs(legs.paths).identical()).isTrue();
    }

    @Test
    void assemblyKicksEveryUnusableLegWithAReason() throws Exception {
        legs(2, 2, 0);
        Path foreign = TestLegs.file(dir.resolve("foreign"), 32L << 20);
        ArrayCreator.create(
                CreateOptions.builder("other").assumeClean(true).raidDevices(1).build(), List.of(foreign));
        Path garbage = TestLegs.file(dir.resolve("garbage"), 32L << 20);
        List<BlockDevice> devs = new java.util.ArrayList<>(legs.open());
        devs.add(BlockDevices.open(foreign));
        devs.add(BlockDevices.open(garbage));
        Raid1Array a = legs.track(Raid1Array.assemble(devs, fast()));
        assertThat(a.kickedAtAssembly()).hasSize(2);
        assertThat(a.kickedAtAssembly()).anySatisfy(k -> {
            assertThat(k.name()).isEqualTo(foreign.toString());
            assertThat(k.reason()).contains("set_uuid").contains("another array");
        });
        assertThat(a.kickedAtAssembly()).anySatisfy(k -> {
            assertThat(k.name()).isEqualTo(garbage.toString());
            assertThat(k.reason()).contains("no valid md superblock").contains("magic");
        });
        assertThat(a.degraded()).isZero();
    }

    @Test
    void aLegMissingFromAnAssemblyIsKickedAsNonFreshAndReAddedThroughTheBitmap() throws Exception {
        legs(2, 2, 0);
        Raid1Array a = legs.assemble(fast());
        write(a, 3, 100);
        a.close();
        // assemble with leg 0 alone: degraded; write a few chunks
        Raid1Array alone = legs.track(Raid1Array.assemble(List.of(legs.openLeg(0)), fast()));
        assertThat(alone.degraded()).isEqualTo(1);
        for (long c : new long[] {2, 9, 10}) alone.write(c * CHUNK + 4096, AlignedBuffers.allocate(8192));
        alone.close();

        Raid1Array b = legs.assemble(fast());
        assertThat(b.kickedAtAssembly()).singleElement().satisfies(k -> {
            assertThat(k.name()).isEqualTo(legs.paths.get(1).toString());
            assertThat(k.reason()).contains("non-fresh").contains("events");
        });
        b.reAddDevice(legs.openLeg(1));
        SyncReport r = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(r.sectorsCopied())
                .as("only the three chunks written while it was away")
                .isEqualTo(3 * CHUNK / 512);
        assertThat(b.degraded()).isZero();
        b.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    @Test
    void aLegWhoseAbsenceTheBitmapCannotProveIsRecoveredInFull() throws Exception {
        legs(3, 2, 0 + 1);
        Raid1Array a = legs.assemble(fast());
        String leg1 = a.mirrors().byDevNumber(1).orElseThrow().name();
        a.failDevice(leg1);
        a.removeDevice(leg1);
        SyncReport spare = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(spare.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(a.degraded()).isZero();
        write(a, 4, 50); // whole again: events_cleared moves past leg 1's events
        String leg2 = a.mirrors().byDevNumber(2).orElseThrow().name();
        a.failDevice(leg2);
        a.removeDevice(leg2);
        a.reAddDevice(legs.openLeg(1));
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(r.sectorsCopied())
                .as("events < events_cleared: full recovery")
                .isEqualTo(a.sizeSectors());
        a.close();
        assertThat(Verifier.compareLegs(List.of(legs.paths.get(0), legs.paths.get(1)))
                        .identical())
                .isTrue();
    }

    @Test
    void anInterruptedRecoveryResumesFromRecoveryOffset() throws Exception {
        legs(3, 2, 1);
        Raid1Array a = legs.assemble(ArrayOptions.builder()
                .syncSpeedMax(8_000)
                .checkpointInterval(Duration.ofMillis(100))
                .build());
        a.failDevice(a.mirrors().byDevNumber(1).orElseThrow().name());
        long size = a.sizeSectors();
        Awaitility.await().atMost(WAIT).until(() -> {
            Mirror m = a.mirrors().byDevNumber(2).orElseThrow();
            return m.state() == MirrorState.REBUILDING && m.recoveryOffset() > size / 4;
        });
        a.close();
        Superblock sb = Examiner.examine(legs.paths.get(2)).superblock();
        assertThat(sb.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET)).isTrue();
        long offset = sb.recoveryOffset();
        assertThat(offset).isGreaterThan(0).isLessThan(size);

        Raid1Array b = legs.assemble(fast());
        assertThat(b.kickedAtAssembly())
                .as("leg 1 is faulty in the freshest superblock")
                .hasSize(1);
        assertThat(b.mirrors().byDevNumber(2).orElseThrow().state()).isEqualTo(MirrorState.REBUILDING);
        SyncReport r = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RECOVER);
        assertThat(r.startSector()).isEqualTo(offset);
        assertThat(r.sectorsCopied()).isEqualTo(size - offset);
        b.close();
        assertThat(Verifier.compareLegs(List.of(legs.paths.get(0), legs.paths.get(2)))
                        .identical())
                .isTrue();
    }

    @Test
    void aLegFailedAtRunTimeIsKickedAtTheNextAssemblyAndComesBackWithTheBitmap() throws Exception {
        legs(2, 2, 0);
        Raid1Array a = legs.assemble(fast());
        String leg1 = a.mirrors().byDevNumber(1).orElseThrow().name();
        a.failDevice(leg1);
        a.write(5 * CHUNK, AlignedBuffers.allocate(4096));
        a.close();
        Raid1Array b = legs.assemble(fast());
        assertThat(b.kickedAtAssembly())
                .singleElement()
                .satisfies(k -> assertThat(k.reason()).contains("faulty"));
        assertThatThrownBy(() -> b.reAddDevice(legs.openLeg(0)))
                .as("dev_number in use")
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY));
        b.reAddDevice(legs.openLeg(1));
        SyncReport r = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.sectorsCopied()).isEqualTo(CHUNK / 512);
        b.close();
        assertThat(legs.compare().identical()).isTrue();
        ByteBuffer unused = ByteBuffer.allocate(0);
        assertThat(unused.capacity()).isZero();
    }

    @Test
    void aDeviceTooSmallOrForeignIsRefused() throws Exception {
        legs(2, 2, 0);
        Raid1Array a = legs.assemble(fast());
        Path small = TestLegs.file(dir.resolve("small"), 4L << 20);
        try (BlockDevice d = BlockDevices.open(small)) {
            assertThatThrownBy(() -> a.addDevice(d))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        }
        Path blank = TestLegs.file(dir.resolve("blank"), 32L << 20);
        try (RandomAccessFile raf = new RandomAccessFile(blank.toFile(), "rw")) {
            raf.setLength(32L << 20);
        }
        try (BlockDevice d = BlockDevices.open(blank)) {
            assertThatThrownBy(() -> a.reAddDevice(d))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        }
    }
}
