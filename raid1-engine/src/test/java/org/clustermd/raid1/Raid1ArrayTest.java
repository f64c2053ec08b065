package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.awaitility.Awaitility;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The array's basic life: assemble, write and read, close, assemble again; md's attributes along the way. */
class Raid1ArrayTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(60));

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() throws Exception {
        if (legs != null) legs.close();
    }

    private TestLegs legs(int n, long bytes, CreateOptions o) throws Exception {
        legs = new TestLegs(dir, n, bytes).create(o);
        return legs;
    }

    private static CreateOptions.Builder clean(String name) {
        return CreateOptions.builder(name).assumeClean(true).bitmapChunk(1 << 20);
    }

    @Test
    void everyAcknowledgedWriteIsReadBackAndTheLegsAreIdentical() throws Exception {
        legs(2, 48L << 20, clean("md-rw").build());
        Raid1Array a = legs.assemble(ArrayOptions.defaults());
        WriteLedger ledger = new WriteLedger();
        Workload.Result r = Workload.builder(BlockTarget.of(a), ledger)
                .seed(11)
                .queueDepth(16)
                .build()
                .run(600);
        assertThat(r.failed()).isZero();
        assertThat(Verifier.verify(BlockTarget.of(a), ledger, false).problems()).isEmpty();
        assertThat(a.mirrors().degraded()).isZero();
        a.close();
        assertThat(legs.compare().identical()).isTrue();

        Raid1Array again = legs.assemble(ArrayOptions.defaults());
        assertThat(again.kickedAtAssembly()).isEmpty();
        assertThat(Verifier.verify(BlockTarget.of(again), ledger, false).problems())
                .isEmpty();
        assertThat(again.stats().inFlight()).isZero();
        assertThat(again.stats().readsCompleted()).isPositive();
    }

    @Test
    void aNewArrayIsResyncedByItsFirstAssembly() throws Exception {
        legs(2, 40L << 20, CreateOptions.builder("md-new").bitmapChunk(1 << 20).build());
        Raid1Array a =
                legs.assemble(ArrayOptions.builder().syncSpeedMax(10_000_000).build());
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RESYNC);
        assertThat(r.completed()).isTrue();
        assertThat(r.sectorsCopied()).isEqualTo(a.sizeSectors());
        assertThat(a.recoveryCp()).isEqualTo(Long.MAX_VALUE);
        a.close();
        assertThat(legs.compare().identical()).isTrue();
        Superblock sb = Examiner.examine(legs.paths.get(0)).superblock();
        assertThat(sb.resyncOffset()).as("clean after the resync").isEqualTo(Superblock.MAX_SECTOR);
        assertThat(Examiner.examine(legs.paths.get(1))
                        .bitmap()
                        .orElseThrow()
                        .slots()
                        .get(0)
                        .dirty())
                .as("slot 0's initial ones are cleared")
                .isZero();
    }

    @Test
    void badRequestsAreRefusedBeforeAnyLegIsTouched() throws Exception {
        legs(2, 16L << 20, clean("md-bad").build());
        Raid1Array a = legs.assemble(ArrayOptions.defaults());
        ByteBuffer b = AlignedBuffers.allocate(4096);
        assertCode(() -> a.write(512, b), Raid1Exception.Code.UNALIGNED);
        assertCode(() -> a.write(0, AlignedBuffers.allocate(1000)), Raid1Exception.Code.UNALIGNED);
        assertCode(() -> a.write(a.size(), b), Raid1Exception.Code.OUT_OF_RANGE);
        assertCode(() -> a.write(-4096, b), Raid1Exception.Code.OUT_OF_RANGE);
        assertCode(() -> a.read(a.size() - 4096, AlignedBuffers.allocate(8192)), Raid1Exception.Code.OUT_OF_RANGE);
        assertCode(() -> a.read(0, ByteBuffer.allocate(4096).asReadOnlyBuffer()), Raid1Exception.Code.BAD_BUFFER);
        assertCode(() -> a.discard(1, 4096), Raid1Exception.Code.UNALIGNED);
        assertThat(a.stats().writesCompleted()).isZero();
        for (var m : a.mirrors().mirrors())
            assertThat(m.stats().writesCompleted()).isZero();
        a.discard(0, 8192);
        a.write(a.size() - 4096, b.duplicate(), true);
    }

    @Test
    void theSyncAndDeviceGroupsAreTheSameAttributesAsTheShortForms() throws Exception {
        legs(2, 24L << 20, clean("md-groups").build());
        Raid1Array a = legs.assemble(ArrayOptions.defaults());
        a.sync().speedMax(12_345);
        assertThat(a.syncSpeedMax()).isEqualTo(12_345);
        a.syncMin(8);
        assertThat(a.sync().min()).isEqualTo(8);
        assertThat(a.sync().action()).isEqualTo(a.syncAction());
        assertThat(a.sync().status()).isEqualTo(a.syncStatus()).isEqualTo("idle");
        assertCode(() -> a.sync().speedMin(-1), Raid1Exception.Code.INVALID);

        Mirror leg1 = a.mirrors().mirrors().get(1);
        DeviceAttributes d = a.device(leg1.name());
        assertThat(d.state()).isEqualTo(leg1.mdState());
        d.state("writemostly");
        assertThat(d.writeMostly()).isTrue();
        assertThat(a.mirrors().byName(leg1.name()).orElseThrow().writeMostly()).isTrue();
        a.writeMostly(leg1.name(), false);
        assertThat(d.writeMostly()).isFalse();
        assertCode(() -> d.state("nonsense"), Raid1Exception.Code.INVALID);
        assertCode(() -> a.device("no-such-leg").state(), Raid1Exception.Code.NO_SUCH_DEVICE);
        a.close();
        assertCode(() -> d.fail(), Raid1Exception.Code.CLOSED);
    }

    private static void assertCode(
            org.assertj.core.api.ThrowableAssert.ThrowingCallable call, Raid1Exception.Code code) {
        assertThatThrownBy(call)
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(code));
    }

    @Test
    void heapAndUnalignedBuffersGoThroughABounceCopyWithoutMovingTheCallersPosition() throws Exception {
        legs(2, 16L << 20, clean("md-heap").build());
        Raid1Array a = legs.assemble(ArrayOptions.defaults());
        ByteBuffer src = ByteBuffer.allocate(3 * 4096 + 10);
        for (int i = 0; i < src.capacity(); i++) src.put(i, (byte) (i * 7));
        src.position(10);
        a.write(8192, src);
        assertThat(src.position()).isEqualTo(10);
        ByteBuffer dst = ByteBuffer.allocate(3 * 4096 + 3).position(3);
        a.read(8192, dst);
        assertThat(dst.position()).isEqualTo(3);
        for (int i = 0; i < 3 * 4096; i++) assertThat(dst.get(3 + i)).isEqualTo(src.get(10 + i));
    }

    @Test
    void theArrayTurnsActiveOnTheFirstWriteAndCleanAfterTheSafemodeDelay() throws Exception {
        legs(
                2,
                16L << 20,
                clean("md-state")
                        .bitmap(org.clustermd.raid1.admin.BitmapMode.INTERNAL)
                        .build());
        List<AttributeChange> changes = new CopyOnWriteArrayList<>();
        // long enough that the array is still active when the test reads the superblock (with
        // 100 ms a loaded machine had already written it clean again: resync_offset -1, not 0)
        Raid1Array a = legs.assemble(
                ArrayOptions.builder().safemodeDelay(Duration.ofSeconds(3)).build());
        a.addListener(new ArrayListener() {
            @Override
            public void attributeChanged(AttributeChange c) {
                changes.add(c);
            }
        });
        assertThat(a.arrayState()).isEqualTo(ArrayState.CLEAN);
        long e0 = a.events();
        a.write(0, AlignedBuffers.allocate(4096));
        assertThat(a.arrayState()).isIn(ArrayState.ACTIVE, ArrayState.ACTIVE_IDLE, ArrayState.CLEAN);
        assertThat(a.events()).isGreaterThan(e0);
        assertThat(Examiner.examine(legs.paths.get(0)).superblock().resyncOffset())
                .as("an active array says so on disk before its first write")
                .isZero();
        Awaitility.await().atMost(WAIT).until(() -> a.arrayState() == ArrayState.CLEAN);
        Awaitility.await()
                .atMost(WAIT)
                .until(() -> changes.stream()
                        .anyMatch(c -> c.attribute().equals("ArrayState")
                                && c.newValue().equals("clean")));
        assertThat(changes).anySatisfy(c -> assertThat(c.newValue()).isEqualTo("active"));
        Awaitility.await()
                .atMost(WAIT)
                .untilAsserted(() -> assertThat(
                                Examiner.examine(legs.paths.get(1)).superblock().resyncOffset())
                        .isEqualTo(Superblock.MAX_SECTOR));

        a.arrayState(ArrayState.READONLY);
        assertCode(() -> a.write(0, AlignedBuffers.allocate(4096)), Raid1Exception.Code.READ_ONLY);
        a.arrayState(ArrayState.READ_AUTO);
        a.write(0, AlignedBuffers.allocate(4096));
        assertThat(a.arrayState()).isNotEqualTo(ArrayState.READ_AUTO);
        assertCode(() -> a.arrayState(ArrayState.INACTIVE), Raid1Exception.Code.INVALID);
    }

    @Test
    void aClusteredArrayNeverGoesBackToCleanByItself() throws Exception {
        legs(2, 16L << 20, clean("md-cl").build());
        Raid1Array a = legs.assemble(
                ArrayOptions.builder().safemodeDelay(Duration.ofMillis(50)).build());
        a.write(0, AlignedBuffers.allocate(4096));
        Thread.sleep(300);
        assertThat(a.arrayState()).as("safemode is off on a clustered array").isEqualTo(ArrayState.ACTIVE);
    }

    @Test
    void fuaReachesEveryLeg() throws Exception {
        legs(2, 16L << 20, clean("md-fua").build());
        java.util.concurrent.atomic.AtomicLong seq = new java.util.concurrent.atomic.AtomicLong();
        List<org.clustermd.raid1.io.BlockDevice> devs = legs.open();
        RecordingDevice r0 = new RecordingDevice(devs.get(0), seq);
        RecordingDevice r1 = new RecordingDevice(devs.get(1), seq);
        Raid1Array a = legs.track(Raid1Array.assemble(List.of(r0, r1), ArrayOptions.defaults()));
        long data = legs.created.dataOffset() * 512;
        a.write(8192, AlignedBuffers.allocate(4096), true);
        a.write(16384, AlignedBuffers.allocate(4096), false);
        for (RecordingDevice r : List.of(r0, r1)) {
            assertThat(r.writes).anySatisfy(w -> {
                assertThat(w.offset()).isEqualTo(data + 8192);
                assertThat(w.fua()).isTrue();
            });
            assertThat(r.writes).anySatisfy(w -> {
                assertThat(w.offset()).isEqualTo(data + 16384);
                assertThat(w.fua()).isFalse();
            });
        }
    }

    @Test
    void theArrayCountsEachRequestOnceAndItsLegsSeparately() throws Exception {
        legs(
                2,
                16L << 20,
                clean("md-stats")
                        .bitmap(org.clustermd.raid1.admin.BitmapMode.NONE)
                        .build());
        Raid1Array a = legs.assemble(ArrayOptions.defaults());
        List<java.util.concurrent.CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 20; i++) fs.add(a.writeAsync(i * 4096L, AlignedBuffers.allocate(4096)));
        for (var f : fs) f.join();
        a.read(0, AlignedBuffers.allocate(8192));
        assertThat(a.stats().writesCompleted()).isEqualTo(20);
        assertThat(a.stats().sectorsWritten()).isEqualTo(160);
        assertThat(a.stats().readsCompleted()).isEqualTo(1);
        assertThat(a.stats().inFlight()).isZero();
        long legWrites = a.mirrors().mirrors().stream()
                .mapToLong(m -> m.stats().writesCompleted())
                .sum();
        assertThat(legWrites)
                .as("each leg wrote each request (plus superblocks)")
                .isGreaterThanOrEqualTo(40);
    }
}
