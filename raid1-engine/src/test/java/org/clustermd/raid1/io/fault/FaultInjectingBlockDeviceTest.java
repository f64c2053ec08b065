package org.clustermd.raid1.io.fault;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

@Timeout(value = 60, unit = TimeUnit.SECONDS)
class FaultInjectingBlockDeviceTest {
    private static final int BS = 4096;
    private static final int SECTORS_PER_BLOCK = BS / BlockDevice.SECTOR_SIZE;

    @TempDir
    Path dir;

    private FaultInjectingBlockDevice dev;

    @BeforeEach
    void open() throws Exception {
        dev = openFresh("leg");
    }

    private FaultInjectingBlockDevice openFresh(String name) throws Exception {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1L << 20);
        }
        return new FaultInjectingBlockDevice(BlockDevices.open(f));
    }

    @AfterEach
    void close() throws Exception {
        dev.close();
    }

    private static ByteBuffer filled(int blocks, int value) {
        ByteBuffer b = AlignedBuffers.allocate(blocks * BS);
        for (int i = 0; i < b.capacity(); i++) {
            b.put(i, (byte) value);
        }
        return b;
    }

    private byte[] blockOf(BlockDevice d, long block) throws Exception {
        ByteBuffer b = AlignedBuffers.allocate(BS);
        d.read(block * BS, b);
        byte[] out = new byte[BS];
        b.get(0, out);
        return out;
    }

    private static byte[] block(int value) {
        byte[] b = new byte[BS];
        Arrays.fill(b, (byte) value);
        return b;
    }

    private static void assertEio(ThrowingRunnable r) {
        assertThatThrownBy(r::run)
                .isInstanceOfSatisfying(BlockDeviceException.class, e -> {
                    assertThat(e.code()).isEqualTo(BlockDeviceException.Code.IO_ERROR);
                    assertThat(e.errno()).isEqualTo(5);
                })
                .hasMessageContaining("Input/output error");
    }

    interface ThrowingRunnable {
        void run() throws Exception;
    }

    @Test
    void readsOverlappingAFailingRangeGetEioAndTheRestPass() throws Exception {
        dev.write(0, filled(8, 1));
        dev.failReads(2L * SECTORS_PER_BLOCK + 3, 2L * SECTORS_PER_BLOCK + 4); // one sector inside block 2
        assertEio(() -> dev.read(2L * BS, AlignedBuffers.allocate(BS)));
        assertEio(() -> dev.read(0, AlignedBuffers.allocate(4 * BS))); // overlaps partly
        assertThat(blockOf(dev, 1)).isEqualTo(block(1));
        assertThat(blockOf(dev, 3)).isEqualTo(block(1));
        dev.clearFaults();
        assertThat(blockOf(dev, 2)).isEqualTo(block(1));
        assertThat(dev.injectedFaults()).isEqualTo(2);
    }

    @Test
    void failedWriteNeverReachesTheDevice() throws Exception {
        dev.write(0, filled(4, 1));
        dev.failWrites(SECTORS_PER_BLOCK, 2L * SECTORS_PER_BLOCK);
        assertEio(() -> dev.write(0, filled(4, 2)));
        dev.write(2L * BS, filled(1, 3));
        assertThat(blockOf(dev, 0)).isEqualTo(block(1));
        assertThat(blockOf(dev, 1)).isEqualTo(block(1));
        assertThat(blockOf(dev, 2)).isEqualTo(block(3));
    }

    @Test
    void failNextWritesFailsExactlyThatMany() throws Exception {
        dev.failNextWrites(2);
        int failed = 0;
        for (int i = 0; i < 5; i++) {
            CompletableFuture<Void> f = dev.writeAsync((long) i * BS, filled(1, 9));
            try {
                f.join();
            } catch (RuntimeException e) {
                failed++;
            }
        }
        assertThat(failed).isEqualTo(2);
        assertThat(dev.stats().errors()).isEqualTo(2);
        assertThat(dev.stats().writesCompleted()).isEqualTo(5);
        assertThat(dev.stats().inFlight()).isZero();
    }

    @Test
    void switchesTakeEffectAtRunTime() throws Exception {
        dev.failAllReads(true);
        assertEio(() -> dev.read(0, AlignedBuffers.allocate(BS)));
        dev.failAllReads(false);
        dev.read(0, AlignedBuffers.allocate(BS));
        dev.failAllWrites(true);
        assertEio(() -> dev.write(0, filled(1, 1)));
        dev.failAllWrites(false);
        dev.failFlushes(true);
        assertEio(() -> dev.flush());
        assertEio(() -> dev.write(0, filled(1, 1), true)); // FUA implies a flush
        dev.clearFaults();
        dev.write(0, filled(1, 1), true);
        dev.failNextReads(1);
        assertEio(() -> dev.read(0, AlignedBuffers.allocate(BS)));
        assertThat(blockOf(dev, 0)).isEqualTo(block(1));
    }

    @Test
    void droppedWritesReportSuccessButLeaveTheOldData() throws Exception {
        dev.write(0, filled(1, 1));
        dev.dropWrites(true);
        dev.write(0, filled(1, 2));
        assertThat(blockOf(dev, 0)).isEqualTo(block(1));
        dev.dropWrites(false);
        dev.write(0, filled(1, 2));
        assertThat(blockOf(dev, 0)).isEqualTo(block(2));
    }

    @Test
    void latencyDelaysRequestsByAtLeastTheSetAmount() throws Exception {
        dev.setWriteLatencyMicros(30_000);
        dev.setReadLatencyMicros(30_000);
        long t0 = System.nanoTime();
        dev.write(0, filled(1, 4));
        dev.read(0, AlignedBuffers.allocate(BS));
        // a lower bound only: the scheduler never fires early (no upper bound is asserted)
        assertThat(System.nanoTime() - t0).isGreaterThanOrEqualTo(TimeUnit.MILLISECONDS.toNanos(60));
        assertThat(blockOf(dev, 0)).isEqualTo(block(4));
    }

    @Test
    void powerCutLosesEveryUnflushedWriteAndKeepsFlushedOnes() throws Exception {
        dev.armPowerCut();
        dev.write(0, filled(4, 1));
        dev.flush();
        assertThat(dev.unflushedBlocks()).isZero();
        dev.write(BS, filled(2, 2)); // overwrites blocks 1-2
        dev.write(6L * BS, filled(1, 3)); // a block never written before
        dev.write(BS, filled(1, 5)); // second write to block 1: its durable state is still 1
        assertThat(dev.unflushedBlocks()).isEqualTo(3);

        dev.powerCut(PowerCutMode.DROP_UNFLUSHED, 1);
        assertThat(dev.isPowerCut()).isTrue();
        assertEio(() -> dev.read(0, AlignedBuffers.allocate(BS)));
        assertEio(() -> dev.write(0, filled(1, 7)));
        dev.powerOn();

        assertThat(blockOf(dev, 0)).isEqualTo(block(1));
        assertThat(blockOf(dev, 1)).isEqualTo(block(1));
        assertThat(blockOf(dev, 2)).isEqualTo(block(1));
        assertThat(blockOf(dev, 3)).isEqualTo(block(1));
        assertThat(blockOf(dev, 6)).isEqualTo(block(0));
    }

    @Test
    void fuaWriteSurvivesAPowerCut() throws Exception {
        dev.armPowerCut();
        dev.write(0, filled(1, 1));
        dev.write(BS, filled(1, 2), true);
        dev.powerCut(PowerCutMode.DROP_UNFLUSHED, 1);
        dev.powerOn();
        assertThat(blockOf(dev, 0)).isEqualTo(block(0));
        assertThat(blockOf(dev, 1)).isEqualTo(block(2));
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 42})
    void randomSubsetKeepsEachBlockOldOrNewAndIsReproducibleFromTheSeed(long seed) throws Exception {
        byte[][] first = cutWithSeed(dev, seed);
        try (FaultInjectingBlockDevice other = openFresh("other-" + seed)) {
            byte[][] second = cutWithSeed(other, seed);
            for (int b = 0; b < first.length; b++) {
                assertThat(first[b]).as("seed %d block %d", seed, b).isEqualTo(second[b]);
            }
        }
        int kept = 0;
        for (byte[] b : first) {
            assertThat(b)
                    .as("seed %d: each block is entirely old or entirely new", seed)
                    .satisfiesAnyOf(
                            x -> assertThat(x).isEqualTo(block(1)),
                            x -> assertThat(x).isEqualTo(block(2)));
            kept += Arrays.equals(b, block(2)) ? 1 : 0;
        }
        assertThat(kept).as("seed %d: 32 blocks, some kept and some lost", seed).isBetween(1, 31);
    }

    private byte[][] cutWithSeed(FaultInjectingBlockDevice d, long seed) throws Exception {
        d.armPowerCut();
        d.write(0, filled(32, 1));
        d.flush();
        Random r = new Random(seed);
        for (int i = 0; i < 32; i++) {
            d.writeAsync((long) i * BS, filled(1, 2)).get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        }
        assertThat(r.nextInt()).isNotNull();
        d.powerCut(PowerCutMode.KEEP_RANDOM_SUBSET, seed);
        d.powerOn();
        byte[][] out = new byte[32][];
        for (int i = 0; i < 32; i++) {
            out[i] = blockOf(d, i);
        }
        return out;
    }

    @Test
    void powerCutWithoutArmingIsRefused() {
        assertThatThrownBy(() -> dev.powerCut(PowerCutMode.DROP_UNFLUSHED, 0))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("not armed");
    }

    @Test
    void powerCutWaitsForWritesInFlight() throws Exception {
        dev.armPowerCut();
        dev.write(0, filled(64, 1));
        dev.flush();
        CompletableFuture<?>[] fs = new CompletableFuture<?>[64];
        for (int i = 0; i < 64; i++) {
            fs[i] = dev.writeAsync((long) i * BS, filled(1, 2));
        }
        dev.powerCut(PowerCutMode.DROP_UNFLUSHED, 5);
        dev.powerOn();
        for (CompletableFuture<?> f : fs) {
            assertThat(f).isDone();
        }
        for (int i = 0; i < 64; i++) {
            assertThat(blockOf(dev, i)).as("block %d", i).isEqualTo(block(1));
        }
        assertThat(dev.stats().inFlight()).isZero();
    }
}
