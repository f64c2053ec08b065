package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.awaitility.Awaitility;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.io.fault.PowerCutMode;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * A power cut at a random point of a mixed workload (writes, flushes, FUA; a volatile write cache
 * that kept a random subset of the unflushed blocks): after reassembly every durable
 * acknowledged write is still there, no block went back before it, the resync the bitmap drives
 * makes the legs byte-identical, and a leg failed in the last moments is re-added and recovered.
 * Seeds are printed in failure messages and replay the same choices.
 */
class PowerCutTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(120));

    @TempDir
    Path dir;

    static long[] quickSeeds() {
        return new long[] {1, 2, 3};
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("quickSeeds")
    void everyDurableWriteSurvivesAPowerCutAndTheLegsEndIdentical(long seed) throws Exception {
        cutAndCheck(seed, BitmapMode.CLUSTERED);
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {4})
    void withoutABitmapTheWholeArrayIsResynced(long seed) throws Exception {
        cutAndCheck(seed, BitmapMode.NONE);
    }

    @Tag("soak")
    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {101, 102, 103, 104, 105, 106, 107, 108, 109, 110, 111, 112, 113, 114, 115, 116})
    void soakPowerCuts(long seed) throws Exception {
        cutAndCheck(seed, seed % 3 == 0 ? BitmapMode.NONE : BitmapMode.CLUSTERED);
    }

    private void cutAndCheck(long seed, BitmapMode mode) throws Exception {
        Random r = new Random(seed);
        String why = "seed " + seed + " (" + mode + ")";
        try (TestLegs legs = new TestLegs(dir, 2, 32L << 20)) {
            legs.create(CreateOptions.builder("md-cut")
                    .assumeClean(true)
                    .bitmap(mode)
                    .bitmapChunk(256 << 10)
                    .build());
            Raid1Array a = legs.assembleFaulty(
                    ArrayOptions.builder().syncSpeedMax(10_000_000).build());
            for (FaultInjectingBlockDevice f : legs.faults) f.armPowerCut();
            WriteLedger ledger = new WriteLedger();
            Workload w = Workload.builder(BlockTarget.of(a), ledger)
                    .seed(seed)
                    .writer(1 + (seed & 0xffff))
                    .queueDepth(1 + r.nextInt(16))
                    .flushEvery(1 + r.nextInt(40))
                    .fuaPercent(r.nextInt(20))
                    .maxBlocks(1 + r.nextInt(16))
                    .build();
            Workload.Handle h = w.start();
            long cutAfter = 50 + r.nextInt(600);
            Awaitility.await().atMost(WAIT).until(() -> h.acknowledged() >= cutAfter);
            // the machine loses power: every leg at (nearly) the same moment
            for (FaultInjectingBlockDevice f : legs.faults) {
                f.failAllWrites(true);
                f.failAllReads(true);
                f.failFlushes(true);
            }
            for (FaultInjectingBlockDevice f : legs.faults) f.powerCut(PowerCutMode.KEEP_RANDOM_SUBSET, r.nextLong());
            h.stop();
            a.close(); // nothing reaches the legs any more: this is the crash
            for (FaultInjectingBlockDevice f : legs.faults) {
                f.clearFaults();
                f.powerOn();
            }

            if (System.getenv("POWERCUT_DEBUG") != null) debug(legs, ledger);
            Raid1Array b = legs.assemble(
                    ArrayOptions.builder().syncSpeedMax(10_000_000).build());
            for (KickedLeg k : b.kickedAtAssembly()) {
                // a leg failed in the last moments before the cut: bring it back
                int i = legs.paths.indexOf(Path.of(k.name()));
                BlockDevice d = legs.openLeg(i);
                b.reAddDevice(d);
            }
            b.awaitSyncIdle(WAIT);
            assertThat(b.degraded()).as(why).isZero();
            Verifier.Report report = Verifier.verify(BlockTarget.of(b), ledger, true);
            assertThat(report.problems()).as(why).isEmpty();
            assertThat(report.blocksChecked()).as(why).isPositive();
            b.close();
            Verifier.LegComparison cmp = legs.compare();
            assertThat(cmp.identical())
                    .as("%s: legs differ at byte %d (%d blocks)", why, cmp.firstDifference(), cmp.differingBlocks())
                    .isTrue();
        }
    }

    private static void debug(TestLegs legs, WriteLedger ledger) throws Exception {
        long dataOff = legs.created.dataOffset() * 512;
        try (BlockDevice d0 = legs.openLeg(0);
                BlockDevice d1 = legs.openLeg(1)) {
            BlockDevice[] ds = {d0, d1};
            for (long blk : ledger.blocks()) {
                java.util.Set<Long> allowed = ledger.allowed(blk, true);
                StringBuilder sb = new StringBuilder();
                for (int i = 0; i < 2; i++) {
                    java.nio.ByteBuffer b = org.clustermd.raid1.io.AlignedBuffers.allocate(4096);
                    ds[i].read(dataOff + blk * 4096, b);
                    var st = org.clustermd.raid1.verify.StampedBlock.read(b, 0, blk * 4096);
                    long id = st == null ? -1 : st.writeId();
                    sb.append(" leg").append(i).append('=').append(id).append(allowed.contains(id) ? "" : "!");
                }
                if (sb.indexOf("!") >= 0) System.out.println("DEBUG block " + blk + " allowed " + allowed + sb);
            }
        }
    }

    /** Keeps the compiler honest about unused imports in some JDKs. */
    @SuppressWarnings("unused")
    private static final List<Object> NONE = List.of();
}
