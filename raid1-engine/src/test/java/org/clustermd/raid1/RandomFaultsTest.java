package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded random EIO on reads, writes and flushes of every leg of a 3-leg array while a workload
 * writes and a reader reads; failed legs are cleared and re-added at random. In the end every
 * acknowledged write is readable and, once every leg is back and recovered, the legs are
 * byte-identical. The seed is in every failure message.
 */
class RandomFaultsTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(120));

    @TempDir
    Path dir;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {21, 22})
    void randomLegErrorsNeverLoseAnAcknowledgedWrite(long seed) throws Exception {
        run(seed, 2500);
    }

    @Tag("soak")
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {201, 202, 203, 204, 205, 206, 207, 208, 209, 210})
    void soakRandomLegErrors(long seed) throws Exception {
        run(seed, 10_000);
    }

    private void run(long seed, long millis) throws Exception {
        String why = "seed " + seed;
        Random r = new Random(seed);
        try (TestLegs legs = new TestLegs(dir, 3, 24L << 20)) {
            legs.create(CreateOptions.builder("md-rnd")
                    .assumeClean(true)
                    .bitmapChunk(256 << 10)
                    .build());
            Raid1Array a = legs.assembleFaulty(ArrayOptions.builder()
                    .syncSpeedMax(200_000)
                    .ioWait(Duration.ofSeconds(20))
                    .build());
            WriteLedger ledger = new WriteLedger();
            Workload.Handle writer = Workload.builder(BlockTarget.of(a), ledger)
                    .seed(seed)
                    .writer(seed)
                    .queueDepth(8)
                    .flushEvery(32)
                    .fuaPercent(5)
                    .build()
                    .start();
            AtomicBoolean reading = new AtomicBoolean(true);
            AtomicLong readErrors = new AtomicLong();
            Thread reader = new Thread(
                    () -> {
                        Random rr = new Random(seed + 1);
                        ByteBuffer b = AlignedBuffers.allocate(16384);
                        while (reading.get()) {
                            try {
                                a.read((rr.nextLong() & Long.MAX_VALUE) % (a.size() / 16384) * 16384, b);
                            } catch (java.io.IOException e) {
                                readErrors.incrementAndGet();
                            }
                        }
                    },
                    "reader");
            reader.start();
            long end = System.nanoTime() + Duration.ofMillis(millis).toNanos();
            long data = legs.created.dataOffset();
            while (System.nanoTime() < end) {
                Thread.sleep(20 + r.nextInt(60));
                FaultInjectingBlockDevice f = legs.faults.get(r.nextInt(3));
                switch (r.nextInt(8)) {
                    case 0 -> f.failNextWrites(1 + r.nextInt(3));
                    case 1 -> f.failNextReads(1 + r.nextInt(3));
                    case 2 -> {
                        long s = data + r.nextInt((int) (a.sizeSectors() - 64)) / 8 * 8;
                        f.failReads(s, s + 8 + r.nextInt(64));
                    }
                    case 3 -> f.setWriteLatencyMicros(r.nextInt(2000));
                    case 4 -> f.clearFaults();
                    default -> {
                        // bring back what failed: clear its faults and re-add it (bitmap recovery)
                        for (FaultInjectingBlockDevice g : legs.faults) {
                            Mirror m = a.mirrors().byName(g.name()).orElse(null);
                            if (m != null && m.state() == MirrorState.FAULTY && r.nextBoolean()) {
                                g.clearFaults();
                                try {
                                    a.reAddDevice(g.name());
                                } catch (Raid1Exception e) {
                                    // another leg's injected errors can fail the re-add itself: retried later
                                }
                            }
                        }
                    }
                }
            }
            Workload.Result w = writer.stop();
            reading.set(false);
            reader.join();
            for (FaultInjectingBlockDevice g : legs.faults) g.clearFaults();
            // A fault decided before the clear (a recovery read or a bitmap write already failed)
            // can still turn a leg FAULTY after we looked: bring everything back until a round
            // finds nothing to re-add. Three rounds bound it, so an engine that never recovers
            // a leg still fails below.
            for (int round = 0; round < 3; round++) {
                boolean readded = false;
                for (FaultInjectingBlockDevice g : legs.faults) {
                    Mirror m = a.mirrors().byName(g.name()).orElseThrow();
                    if (m.state() == MirrorState.FAULTY) {
                        a.reAddDevice(g.name());
                        readded = true;
                    }
                }
                a.syncAction(SyncAction.IDLE); // a pass that failed for want of a source is not retried by itself
                a.awaitSyncIdle(WAIT);
                if (!readded && a.degraded() == 0) break;
            }
            assertThat(a.degraded())
                    .as("%s: %s, last pass %s", why, a, a.sync().last())
                    .isZero();
            assertThat(w.acknowledged()).as(why).isPositive();
            Verifier.Report v = Verifier.verify(BlockTarget.of(a), ledger, false);
            assertThat(v.problems()).as("%s: %s", why, w).isEmpty();
            assertThat(a.stats().inFlight()).as(why).isZero();
            a.close();
            Verifier.LegComparison cmp = legs.compare();
            assertThat(cmp.identical())
                    .as("%s: legs differ at byte %d", why, cmp.firstDifference())
                    .isTrue();
        }
    }
}
