package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sync thread's lifecycle under races (docs/lessons.md §21, docs/lessons.md §22), stop and resume from the checkpoint,
 * check/repair and mismatch_cnt, sync_min/sync_max (docs/lessons.md §24), refused settings (docs/lessons.md §23),
 * the cluster window order (md-cluster e.2), and a dying sync thread fencing the array.
 */
class SyncLifecycleTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(90));

    @TempDir
    Path dir;

    private TestLegs legs;
    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void tearDown() throws Exception {
        pool.shutdownNow();
        if (legs != null) legs.close();
    }

    private TestLegs legs(long bytes, CreateOptions o) throws Exception {
        legs = new TestLegs(dir, 2, bytes).create(o);
        return legs;
    }

    private static ArrayOptions.Builder fast() {
        return ArrayOptions.builder().syncSpeedMax(10_000_000);
    }

    @Test
    void lesson21TwoStartRequestsAtOnceRunOnePass() throws Exception {
        legs(32L << 20, CreateOptions.builder("md-l21").assumeClean(true).build());
        Raid1Array a = legs.assemble(fast().build());
        a.syncMax(2048); // a check pauses there, so it stays running
        SyncControl sync = a.syncControl();
        int rounds = 8;
        AtomicBoolean spam = new AtomicBoolean(true);
        Future<?> spammer = pool.submit(() -> {
            while (spam.get()) a.requestRecovery();
        });
        for (int round = 0; round < rounds; round++) {
            CyclicBarrier go = new CyclicBarrier(4);
            AtomicInteger ok = new AtomicInteger();
            AtomicInteger busy = new AtomicInteger();
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                fs.add(pool.submit(() -> {
                    go.await();
                    try {
                        a.syncAction(SyncAction.CHECK);
                        ok.incrementAndGet();
                    } catch (Raid1Exception e) {
                        assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY);
                        busy.incrementAndGet();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            Awaitility.await().atMost(WAIT).until(() -> a.syncAction() == SyncAction.CHECK);
            // the md thread may already have started the first request's pass: later ones are BUSY
            assertThat(ok.get() + busy.get()).isEqualTo(4);
            a.syncAction(SyncAction.IDLE);
            assertThat(a.syncAction()).isEqualTo(SyncAction.IDLE);
        }
        spam.set(false);
        spammer.get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(sync.mostConcurrentPasses()).as("never two sync threads").isEqualTo(1);
        assertThat(sync.passesStarted()).isEqualTo(rounds);
    }

    @Test
    void lesson22FrozenToCheckSetsTheActionBeforeClearingFrozen() throws Exception {
        legs(32L << 20, CreateOptions.builder("md-l22").build()); // resync pending from creation
        Raid1Array a = legs.assemble(fast().startFrozen(true).build());
        a.syncMax(2048);
        assertThat(a.syncAction()).isEqualTo(SyncAction.FROZEN);
        AtomicBoolean spam = new AtomicBoolean(true);
        Future<?> spammer = pool.submit(() -> {
            while (spam.get()) a.requestRecovery();
        });
        int rounds = 10;
        for (int i = 0; i < rounds; i++) {
            a.syncAction(SyncAction.CHECK);
            Awaitility.await().atMost(WAIT).until(() -> a.syncAction() != SyncAction.IDLE);
            assertThat(a.syncAction())
                    .as("the md thread never slips a resync in")
                    .isEqualTo(SyncAction.CHECK);
            a.syncAction(SyncAction.FROZEN);
            assertThat(a.lastSync().orElseThrow().action()).isEqualTo(SyncAction.CHECK);
        }
        spam.set(false);
        spammer.get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(a.syncControl().passesStarted()).isEqualTo(rounds);
        assertThat(a.recoveryCp()).as("no resync ran").isZero();
        a.syncMax(Long.MAX_VALUE);
        a.syncAction(SyncAction.RESYNC);
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.RESYNC);
        assertThat(r.completed()).isTrue();
    }

    /**
     * docs/lessons.md §68: a pass's I/O counts toward sync_speed_max when it is submitted, as md
     * counts {@code io_sectors}. Counted at completion, a pass issued its whole pipeline before
     * the speed showed anything, and a pass shorter than the pipeline ignored the maximum. Here
     * the source leg holds every read: the first request submitted must already be counted (the
     * speed shows it) and the pass must sleep on it, not submit the next one.
     */
    @Test
    void lesson68AResyncCountsItsRequestsAtSubmissionSoItsPipelineCannotPassSyncSpeedMax() throws Exception {
        legs(24L << 20, CreateOptions.builder("md-l68").bitmap(BitmapMode.NONE).build());
        List<BlockDevice> devices = legs.open();
        ParkingLeg source = new ParkingLeg(devices.get(0), ParkingLeg.Parks.READS);
        devices.set(0, source);
        Raid1Array a = legs.track(Raid1Array.assemble(
                devices,
                ArrayOptions.builder().syncSpeedMax(128).startFrozen(true).build()));
        source.stall();
        a.syncAction(SyncAction.RESYNC);
        Awaitility.await().atMost(WAIT).until(() -> source.parked() >= 2 || a.syncSpeed() > 0);
        assertThat(source.parked())
                .as("resync requests submitted when the speed first showed the pass")
                .isEqualTo(1);
        assertThat(a.syncSpeed())
                .as("KiB/s, above the maximum: the pass sleeps")
                .isGreaterThan(128);
        a.syncSpeedMax(10_000_000);
        source.resume();
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.completed()).isTrue();
        assertThat(legs.compare().identical()).isTrue();
    }

    /**
     * docs/lessons.md §24 and figure P12: while a foreground writer is busy, the resync waits for the
     * requests pending and then for {@code syncYieldRequests} more foreground completions before
     * each of its own requests. With the first wait alone (md's rule) a QD1 writer met a resync
     * request every two or three writes here.
     */
    @Test
    void aBusyForegroundWriterGetsManyRequestsThroughForEachResyncRequest() throws Exception {
        legs(
                64L << 20,
                CreateOptions.builder("md-yield").bitmap(BitmapMode.NONE).build());
        int yield = 32;
        int blockSectors = 128;
        Raid1Array a = legs.assemble(fast().startFrozen(true)
                .syncSpeedMin(0)
                .syncYieldRequests(yield)
                .syncBlockSectors(blockSectors)
                .build());
        AtomicLong writes = new AtomicLong();
        AtomicBoolean writing = new AtomicBoolean(true);
        Future<?> writer = pool.submit(() -> {
            ByteBuffer b = AlignedBuffers.allocate(4096);
            java.util.Random r = new java.util.Random(24);
            long blocks = a.size() / 4096;
            while (writing.get()) {
                a.write(r.nextLong(blocks) * 4096, b);
                writes.incrementAndGet();
            }
            return null;
        });
        Awaitility.await().atMost(WAIT).until(() -> writes.get() >= 200);
        a.syncAction(SyncAction.RESYNC);
        Awaitility.await().atMost(WAIT).until(() -> completed(a) > 0);
        long done0 = completed(a);
        long w0 = writes.get();
        long t0 = System.nanoTime();
        Awaitility.await()
                .atMost(WAIT)
                .until(() -> writes.get() >= w0 + 3000 || !a.syncStatus().equals("resync"));
        String progress = a.syncCompleted(); // "none" once the pass ended: it covered the whole array
        long done1 = progress.equals("none") ? a.sizeSectors() : completed(a);
        long w1 = writes.get();
        long elapsedMs = (System.nanoTime() - t0) / 1_000_000;
        writing.set(false);
        writer.get(WAIT.toSeconds(), TimeUnit.SECONDS);

        long syncRequests = (done1 - done0) / blockSectors;
        long foreground = w1 - w0;
        // a yield also ends when the foreground looks idle (a writer thread descheduled for a
        // millisecond on a busy machine) or after 100 ms: allow for both, generously; with md's rule
        // alone it is about one resync request per three foreground writes
        long bound = foreground / 8 + elapsedMs / 100 + 2L * ArrayOptions.DEFAULT_SYNC_DEPTH;
        assertThat(syncRequests)
                .as("resync requests while %d foreground writes completed in %d ms", foreground, elapsedMs)
                .isLessThanOrEqualTo(bound);
        assertThat(a.syncStatus())
                .as("the resync still runs: it yields, it does not stop")
                .isEqualTo("resync");
        assertThat(done1).as("and makes progress").isGreaterThan(done0);
    }

    /**
     * md_do_sync's distance rule: with a finite sync_max, progress is checkpointed whenever half of
     * what was left up to it is done, whatever the interval; so a pass paused at sync_max has its
     * progress on the superblocks, close to sync_max, long before the interval would write it.
     */
    @Test
    void aPassHeadingForSyncMaxCheckpointsAtHalfOfWhatIsLeft() throws Exception {
        legs(
                64L << 20,
                CreateOptions.builder("md-halves").bitmap(BitmapMode.NONE).build());
        Raid1Array a = legs.assemble(
                fast().startFrozen(true).checkpointInterval(Duration.ofHours(1)).build());
        long limit = a.sizeSectors() / 2;
        a.syncMax(limit);
        a.syncAction(SyncAction.RESYNC);
        Awaitility.await().atMost(WAIT).until(() -> completed(a) >= limit);
        Awaitility.await()
                .atMost(WAIT)
                .until(() -> Examiner.examine(legs.paths.get(0)).superblock().resyncOffset() > 0);
        long onDisk = Examiner.examine(legs.paths.get(0)).superblock().resyncOffset();
        assertThat(onDisk)
                .as("checkpointed at 1/2, 3/4, ... of the way to sync_max")
                .isGreaterThanOrEqualTo(limit / 2)
                .isLessThanOrEqualTo(limit);
        assertThat(a.syncStatus()).as("paused at sync_max, not done").isEqualTo("resync");
    }

    @Test
    void aStoppedResyncResumesFromItsCheckpoint() throws Exception {
        legs(
                64L << 20,
                CreateOptions.builder("md-resume").bitmap(BitmapMode.NONE).build());
        ArrayOptions slow = ArrayOptions.builder()
                .syncSpeedMax(15_000)
                .checkpointInterval(Duration.ofMillis(100))
                .build();
        Raid1Array a = legs.assemble(slow);
        long size = a.sizeSectors();
        Awaitility.await().atMost(WAIT).until(() -> completed(a) > size / 4);
        a.close();
        SyncReport first = a.lastSync().orElseThrow();
        assertThat(first.completed()).isFalse();
        long checkpoint = Examiner.examine(legs.paths.get(0)).superblock().resyncOffset();
        assertThat(checkpoint)
                .as("progress was checkpointed into resync_offset")
                .isGreaterThan(0)
                .isLessThan(size);
        assertThat(checkpoint).isLessThanOrEqualTo(first.endSector());

        Raid1Array b = legs.assemble(fast().build());
        SyncReport second = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(second.action()).isEqualTo(SyncAction.RESYNC);
        assertThat(second.completed()).isTrue();
        assertThat(second.startSector()).as("resumed, not restarted").isEqualTo(checkpoint);
        assertThat(second.sectorsCopied()).isEqualTo(size - checkpoint);
        b.close();
        assertThat(Examiner.examine(legs.paths.get(1)).superblock().resyncOffset())
                .isEqualTo(Superblock.MAX_SECTOR);
        assertThat(legs.compare().identical()).isTrue();
    }

    @Test
    void aStoppedBitmapResyncDoesNotRedoTheSyncedChunks() throws Exception {
        legs(
                64L << 20,
                CreateOptions.builder("md-resume-bm").bitmapChunk(1 << 20).build());
        Raid1Array a = legs.assemble(ArrayOptions.builder()
                .syncSpeedMax(15_000)
                .checkpointInterval(Duration.ofMillis(100))
                .build());
        long size = a.sizeSectors();
        Awaitility.await().atMost(WAIT).until(() -> completed(a) > size / 4);
        a.close();
        SyncReport first = a.lastSync().orElseThrow();
        Raid1Array b = legs.assemble(fast().build());
        SyncReport second = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(second.completed()).isTrue();
        assertThat(second.sectorsCopied()).isLessThan(size);
        assertThat(first.sectorsCopied() + second.sectorsCopied())
                .as("at most the interrupted chunk is copied twice")
                .isBetween(size, size + 2048);
        b.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    private static long completed(Raid1Array a) {
        String s = a.syncCompleted();
        return s.equals("none") ? 0 : Long.parseLong(s.substring(0, s.indexOf(' ')));
    }

    private void corrupt(int leg, long arraySector) throws Exception {
        try (BlockDevice d = BlockDevices.open(legs.paths.get(leg))) {
            ByteBuffer junk = AlignedBuffers.allocate(4096);
            for (int i = 0; i < 4096; i++) junk.put(i, (byte) (i ^ 0x5a));
            d.write((legs.created.dataOffset() + arraySector) * 512, junk);
            d.flush();
        }
    }

    @Test
    void checkCountsMismatchesAndRepairRewritesThem() throws Exception {
        legs(24L << 20, CreateOptions.builder("md-check").assumeClean(true).build());
        Raid1Array a = legs.assemble(fast().build());
        a.write(0, AlignedBuffers.allocate(1 << 20));
        a.close();
        corrupt(1, 8);
        corrupt(1, 4096);
        corrupt(1, 20000);
        Raid1Array b = legs.assemble(fast().build());
        b.syncAction(SyncAction.CHECK);
        SyncReport r = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.action()).isEqualTo(SyncAction.CHECK);
        assertThat(r.sectorsCopied()).isZero();
        assertThat(b.mismatchCount()).isEqualTo(24);
        b.syncAction(SyncAction.REPAIR);
        b.awaitSyncIdle(WAIT);
        assertThat(b.mismatchCount()).isEqualTo(24);
        b.syncAction(SyncAction.CHECK);
        b.awaitSyncIdle(WAIT);
        assertThat(b.mismatchCount()).as("repaired").isZero();
        b.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    @Test
    void lesson24SyncMinAndMaxRoundTripAnyFourKibAlignedValueAndBoundTheCheck() throws Exception {
        legs(24L << 20, CreateOptions.builder("md-l24").assumeClean(true).build());
        Raid1Array a = legs.assemble(fast().build());
        long size = a.sizeSectors();
        for (long v : new long[] {0, 8, 4096 + 8, 12344, size - 8}) {
            a.syncMax(Long.MAX_VALUE);
            a.syncMin(v);
            assertThat(a.syncMin()).as("sync_min %d reads back", v).isEqualTo(v);
            a.syncMax(v + 8);
            assertThat(a.syncMax()).isEqualTo(v + 8);
        }
        a.syncMax(Long.MAX_VALUE);
        a.syncMin(13);
        assertThat(a.syncMin()).as("rounded down to 4 KiB").isEqualTo(8);
        a.syncMax(1000);
        assertThatThrownBy(() -> a.syncMin(2048))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        a.close();

        corrupt(1, 100 * 8);
        corrupt(1, 400 * 8);
        corrupt(1, 9000 * 8 % (size - 8));
        Raid1Array b = legs.assemble(fast().build());
        b.syncMin(50 * 8);
        b.syncMax(300 * 8);
        b.syncAction(SyncAction.CHECK);
        Awaitility.await().atMost(WAIT).until(() -> completed(b) >= 300 * 8);
        assertThat(b.syncAction()).as("paused at sync_max").isEqualTo(SyncAction.CHECK);
        assertThat(b.mismatchCount())
                .as("only [sync_min, sync_max) was checked")
                .isEqualTo(8);
        assertThatThrownBy(() -> b.syncMin(0))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY));
        b.syncMax(Long.MAX_VALUE);
        SyncReport r = b.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.completed()).isTrue();
        assertThat(r.startSector()).isEqualTo(50 * 8);
        assertThat(b.mismatchCount())
                .as("the rest of the array, from sync_min on")
                .isEqualTo(24);
    }

    @Test
    void lesson23ARefusedSettingIsNeverReportedAsDone() throws Exception {
        legs(24L << 20, CreateOptions.builder("md-l23").assumeClean(true).build());
        Raid1Array a = legs.assemble(fast().build());
        assertThatThrownBy(() -> SyncAction.parse("reshape")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> ArrayState.parse("bogus")).isInstanceOf(IllegalArgumentException.class);
        a.syncMax(2048);
        a.syncAction(SyncAction.CHECK);
        Awaitility.await().atMost(WAIT).until(() -> a.syncAction() == SyncAction.CHECK);
        for (SyncAction act :
                new SyncAction[] {SyncAction.CHECK, SyncAction.REPAIR, SyncAction.RESYNC, SyncAction.RECOVER}) {
            assertThatThrownBy(() -> a.syncAction(act))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY));
        }
        String leg = a.mirrors().mirrors().get(0).name();
        assertThatThrownBy(() -> a.deviceState(leg, "bogus"))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        assertThatThrownBy(() -> a.syncSpeedMax(0))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
        assertThatThrownBy(() -> a.deviceState("no-such-leg", "faulty"))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.NO_SUCH_DEVICE));
        a.syncAction(SyncAction.IDLE);
        a.failDevice(a.mirrors().mirrors().get(1).name());
        assertThatThrownBy(() -> a.syncAction(SyncAction.CHECK))
                .as("nothing to compare on a degraded 2-leg array")
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID));
    }

    @Test
    void theClusterWindowIsAnnouncedBeforeResyncIoTouchesItAndFinishFollowsTheLastSuperblock() throws Exception {
        legs(
                96L << 20,
                CreateOptions.builder("md-window").bitmap(BitmapMode.NONE).build());
        AtomicLong seq = new AtomicLong();
        RecordingClusterOperations ops = new RecordingClusterOperations(seq);
        List<BlockDevice> devs = legs.open();
        RecordingDevice target = new RecordingDevice(devs.get(1), seq);
        Raid1Array a = legs.track(Raid1Array.assemble(
                List.of(devs.get(0), target), fast().cluster(ops).build()));
        SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
        assertThat(r.completed()).isTrue();
        long dataStart = legs.created.dataOffset() * 512;
        List<RecordingClusterOperations.Call> windows = ops.calls("resyncInfoUpdate");
        assertThat(windows).hasSizeGreaterThanOrEqualTo(2);
        for (RecordingClusterOperations.Call w : windows) {
            assertThat(w.hi() - w.lo()).isLessThanOrEqualTo(SyncPass.CLUSTER_WINDOW);
        }
        long resyncWrites = 0;
        for (RecordingDevice.Write w : target.writes) {
            if (w.offset() < dataStart) continue;
            long s = (w.offset() - dataStart) / 512;
            long e = s + w.length() / 512;
            RecordingClusterOperations.Call last = null;
            for (RecordingClusterOperations.Call c : windows) if (c.seq() < w.seq()) last = c;
            assertThat(last).as("a window before the write at sector %d", s).isNotNull();
            assertThat(s >= last.lo() && e <= last.hi())
                    .as("write [%d, %d) inside the window [%d, %d)", s, e, last.lo(), last.hi())
                    .isTrue();
            resyncWrites++;
        }
        assertThat(resyncWrites).isPositive();
        long finish = ops.calls("resyncFinish").get(0).seq();
        long lastSuperblock = target.writes.stream()
                .filter(w -> w.offset() == 4096 && w.seq() < finish)
                .mapToLong(RecordingDevice.Write::seq)
                .max()
                .orElseThrow();
        assertThat(target.writes.stream()
                        .filter(w -> w.offset() >= dataStart)
                        .mapToLong(RecordingDevice.Write::seq)
                        .max()
                        .orElseThrow())
                .isLessThan(lastSuperblock);
        assertThat(ops.calls("resyncStart").get(0).seq())
                .isLessThan(windows.get(0).seq());
    }

    @Test
    void anUnexpectedFailureOfTheSyncThreadFencesTheArrayAndTellsTheListener() throws Exception {
        legs(24L << 20, CreateOptions.builder("md-fence").build());
        RecordingClusterOperations ops = new RecordingClusterOperations(new AtomicLong());
        ops.failIn = "resyncInfoUpdate";
        List<FenceReason> fences = new CopyOnWriteArrayList<>();
        ArrayOptions o = fast().cluster(ops).startFrozen(true).build();
        Raid1Array a = legs.assemble(o);
        a.addListener(new ArrayListener() {
            @Override
            public void fenced(FenceReason reason, Throwable cause) {
                fences.add(reason);
            }
        });
        a.syncAction(SyncAction.RESYNC);
        Awaitility.await().atMost(WAIT).until(() -> !fences.isEmpty());
        assertThat(fences).containsExactly(FenceReason.CRITICAL_THREAD_FAILED);
        assertThat(a.fenceReason()).contains(FenceReason.CRITICAL_THREAD_FAILED);
        assertThat(a.arrayState()).isEqualTo(ArrayState.SUSPENDED);
        assertThatThrownBy(() -> a.write(0, AlignedBuffers.allocate(4096)))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.FENCED));
    }

    @Test
    void theEndOfAPassIsReportedAsSyncActionIdle() throws Exception {
        legs(24L << 20, CreateOptions.builder("md-end").build()); // resync pending from creation
        List<AttributeChange> changes = new CopyOnWriteArrayList<>();
        Raid1Array a = legs.assemble(fast().startFrozen(true).build());
        a.addListener(new ArrayListener() {
            @Override
            public void attributeChanged(AttributeChange c) {
                if (c.attribute().equals(AttributeChange.SYNC_ACTION)) changes.add(c);
            }
        });
        a.syncAction(SyncAction.RESYNC);
        a.awaitSyncIdle(WAIT);
        Awaitility.await()
                .atMost(WAIT)
                .until(() -> changes.stream().anyMatch(c -> c.newValue().equals("idle")));
        assertThat(changes).anySatisfy(c -> assertThat(c.newValue()).isEqualTo("resync"));
        assertThat(changes.get(changes.size() - 1).oldValue()).isEqualTo("resync");
    }

    @Test
    void aFencedArrayClearsNoBitmapBitAnyMore() throws Exception {
        legs(
                24L << 20,
                CreateOptions.builder("md-fenced-bits")
                        .assumeClean(true)
                        .bitmapChunk(1 << 20)
                        .build());
        org.clustermd.bitmap.testing.ManualClock clock = new org.clustermd.bitmap.testing.ManualClock();
        Raid1Array a = legs.assemble(fast().bitmapClock(clock).build());
        a.write(0, AlignedBuffers.allocate(4096));
        a.write(5L << 20, AlignedBuffers.allocate(4096));
        assertThat(a.bitmapDirtyChunks()).isEqualTo(2);
        a.fence(FenceReason.CLUSTER_SESSION_LOST, null);
        // several daemon_sleep periods, one at a time, each long enough for a pass: an unfenced
        // daemon clears both bits within three of them
        for (int i = 0; i < 6; i++) {
            clock.advance(Duration.ofSeconds(30));
            Thread.sleep(400);
        }
        a.close();
        var slot = org.clustermd.raid1.admin.Examiner.examine(legs.paths.get(0))
                .bitmap()
                .orElseThrow()
                .slots()
                .get(0);
        assertThat(slot.dirty())
                .as("the fenced node's dirty bits stay for whoever recovers its slot")
                .isEqualTo(2);
    }
}
