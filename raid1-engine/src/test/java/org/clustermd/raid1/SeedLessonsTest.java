package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.DiskStats;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One test per md-core lesson that applies to the engine (docs/lessons.md §19, docs/lessons.md §20, docs/lessons.md §25, docs/lessons.md §26, docs/lessons.md §26b;
 * docs/lessons.md §21, docs/lessons.md §22, docs/lessons.md §23, docs/lessons.md §24 are in {@link SyncLifecycleTest}).
 */
class SeedLessonsTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(60));

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() throws Exception {
        if (legs != null) legs.close();
    }

    private TestLegs legs(Path where, String name) throws Exception {
        Files.createDirectories(where);
        return new TestLegs(where, 2, 24L << 20)
                .create(CreateOptions.builder(name)
                        .assumeClean(true)
                        .bitmapChunk(1 << 20)
                        .build());
    }

    private static void assertCode(org.assertj.core.api.ThrowableAssert.ThrowingCallable c, Raid1Exception.Code code) {
        assertThatThrownBy(c)
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(code));
    }

    @Test
    void lesson19NoErrorPathReturnsWithTheReconfigLockHeld() throws Exception {
        legs = legs(dir, "md-l19");
        Raid1Array a = legs.assemble(ArrayOptions.defaults());
        String leg0 = a.mirrors().byDevNumber(0).orElseThrow().name();
        String leg1 = a.mirrors().byDevNumber(1).orElseThrow().name();
        List<org.assertj.core.api.ThrowableAssert.ThrowingCallable> failing = List.of(
                () -> a.removeDevice(leg0),
                () -> a.reAddDevice(leg0),
                () -> a.failDevice("nope"),
                () -> a.deviceState(leg0, "nonsense"),
                () -> a.syncMin(-8),
                () -> a.syncMax(-1),
                () -> a.addDevice(legs.openLeg(1)),
                () -> a.reAddDevice(legs.openLeg(0)));
        for (var call : failing) {
            assertThatThrownBy(call).isInstanceOf(Raid1Exception.class);
            assertThat(a.reconfigLock().isLocked())
                    .as("the lock is released on the error path")
                    .isFalse();
        }
        a.failDevice(leg1);
        assertCode(() -> a.failDevice(leg0), Raid1Exception.Code.BUSY);
        assertThat(a.reconfigLock().isLocked()).isFalse();
        // another thread can still reconfigure
        CompletableFuture.runAsync(() -> {
                    try {
                        a.removeDevice(leg1);
                    } catch (Raid1Exception e) {
                        throw new IllegalStateException(e);
                    }
                })
                .get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void lesson20AssembleRacingAFinalCloseSeesNoStaleState() throws Exception {
        legs = legs(dir, "md-l20");
        for (int round = 0; round < 4; round++) {
            Raid1Array a = Raid1Array.assemble(legs.open(), ArrayOptions.defaults());
            WriteLedger ledger = new WriteLedger();
            Workload.builder(BlockTarget.of(a), ledger)
                    .seed(round)
                    .writer(round + 1)
                    .queueDepth(8)
                    .build()
                    .run(100);
            CountDownLatch closing = new CountDownLatch(1);
            CompletableFuture<Void> close = CompletableFuture.runAsync(() -> {
                closing.countDown();
                a.close();
            });
            closing.await();
            Raid1Array b = legs.track(Raid1Array.assemble(
                    legs.open(), ArrayOptions.builder().syncSpeedMax(10_000_000).build()));
            close.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            b.awaitSyncIdle(WAIT);
            assertThat(b.kickedAtAssembly()).isEmpty();
            assertThat(b.degraded()).isZero();
            assertThat(Verifier.verify(BlockTarget.of(b), ledger, false).problems())
                    .as("round %d", round)
                    .isEmpty();
            b.write(0, AlignedBuffers.allocate(4096));
            b.close();
            assertThat(legs.compare().identical()).isTrue();
        }
    }

    @Test
    void lesson25TheSuperblockWriterNeverNeedsTheLockItsWaitersHold() throws Exception {
        legs = new TestLegs(dir, 2, 24L << 20)
                .create(CreateOptions.builder("md-l25")
                        .assumeClean(true)
                        .bitmap(org.clustermd.raid1.admin.BitmapMode.INTERNAL)
                        .build());
        Raid1Array a = legs.assemble(
                ArrayOptions.builder().ioWait(Duration.ofSeconds(20)).build());
        a.reconfigLock().lock(); // an administrator in the middle of an operation
        try {
            // a write on the clean array needs the clean -> active superblock update
            CompletableFuture<Void> w = CompletableFuture.supplyAsync(
                            () -> a.writeAsync(0, AlignedBuffers.allocate(4096)))
                    .thenCompose(f -> f);
            w.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
            // and an administrator waiting for an update while holding the lock gets it
            a.failDevice(a.mirrors().byDevNumber(1).orElseThrow().name());
        } finally {
            a.reconfigLock().unlock();
        }
        assertThat(a.degraded()).isEqualTo(1);
    }

    @Test
    void lesson26TwoInstancesUnderOneNameShareNothing() throws Exception {
        TestLegs first = legs(dir.resolve("a"), "md-same");
        legs = legs(dir.resolve("b"), "md-same");
        Raid1Array a = Raid1Array.assemble(first.open(), ArrayOptions.defaults());
        a.write(0, AlignedBuffers.allocate(4096));
        CompletableFuture<Void> close = CompletableFuture.runAsync(a::close);
        Raid1Array b = legs.assemble(ArrayOptions.defaults()); // same name, while the first is torn down
        close.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        WriteLedger ledger = new WriteLedger();
        Workload.builder(BlockTarget.of(b), ledger)
                .seed(7)
                .queueDepth(4)
                .build()
                .run(50);
        assertThat(Verifier.verify(BlockTarget.of(b), ledger, false).problems()).isEmpty();
        assertThat(b.arrayState()).isNotEqualTo(ArrayState.CLEAR);
        b.close();
        first.close();
        Awaitility.await()
                .atMost(WAIT)
                .untilAsserted(() -> assertThat(Thread.getAllStackTraces().keySet())
                        .noneMatch(t -> t.getName().endsWith("md-same") && t.isAlive()));
    }

    @Test
    void lesson26bTheArraysInFlightCountReturnsToZeroOnEveryPath() throws Exception {
        legs = legs(dir, "md-l26b");
        RecordingClusterOperations ops = new RecordingClusterOperations(new AtomicLong());
        Raid1Array a = legs.assembleFaulty(ArrayOptions.builder()
                .cluster(ops)
                .ioWait(Duration.ofMillis(300))
                .build());
        FaultInjectingBlockDevice f0 = legs.faults.get(0);
        FaultInjectingBlockDevice f1 = legs.faults.get(1);
        long data = legs.created.dataOffset();
        a.write(0, AlignedBuffers.allocate(8192));
        // rejected before counting
        assertCode(() -> a.write(100, AlignedBuffers.allocate(4096)), Raid1Exception.Code.UNALIGNED);
        // ended while it waited in a window another node resyncs (the wait lasts as long as the
        // window, so the writer's thread is interrupted to end it)
        ops.suspendHi = 8;
        long checksBefore = ops.writeChecks.get();
        CompletableFuture<Throwable> ended = new CompletableFuture<>();
        Thread waiter = new Thread(() -> {
            try {
                a.write(0, AlignedBuffers.allocate(4096));
                ended.complete(null);
            } catch (Throwable t) {
                ended.complete(t);
            }
        });
        waiter.start();
        Awaitility.await()
                .atMost(WAIT)
                .until(() -> ops.writeChecks.get() > checksBefore && waiter.getState() == Thread.State.TIMED_WAITING);
        waiter.interrupt();
        assertThat(ended.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.TIMEOUT));
        ops.suspendHi = 0;
        // a read error repaired from the other leg, then one no leg can serve
        a.writeMostly(f1.name(), true);
        f0.failNextReads(1);
        a.read(0, AlignedBuffers.allocate(4096));
        f0.failReads(data, data + 8);
        f1.failReads(data, data + 8);
        assertCode(() -> a.read(0, AlignedBuffers.allocate(4096)), Raid1Exception.Code.IO_ERROR);
        f0.clearFaults();
        f1.clearFaults();
        // a failed leg, a failed flush, then the last leg failing a write
        f1.failAllWrites(true);
        a.write(4096, AlignedBuffers.allocate(4096));
        a.flush();
        f0.failWrites(data, data + 8);
        assertCode(() -> a.write(0, AlignedBuffers.allocate(4096)), Raid1Exception.Code.IO_ERROR);
        a.fence(FenceReason.ADMINISTRATIVE, null);
        assertCode(() -> a.write(4096, AlignedBuffers.allocate(4096)), Raid1Exception.Code.FENCED);

        DiskStats s = a.stats();
        assertThat(s.inFlight()).isZero();
        assertThat(s.errors()).isPositive();
        long ticks = s.ioTicksMs();
        Thread.sleep(100);
        assertThat(a.stats().ioTicksMs())
                .as("an idle array is not busy (no 100 %% utilisation)")
                .isEqualTo(ticks);
        for (Mirror m : a.mirrors().mirrors()) assertThat(m.stats().inFlight()).isZero();
    }
}
