package org.clustermd.raid1.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class IoAccountingTest {
    @TempDir
    Path dir;

    @Test
    void countsRequestsSectorsAndErrorsLikeDiskstats() {
        IoAccounting a = new IoAccounting();
        long r1 = a.start();
        long w1 = a.start();
        long w2 = a.start();
        long f1 = a.start();
        assertThat(a.inFlight()).isEqualTo(4);
        a.endRead(r1, 8192, true);
        a.endWrite(w1, 4096, true);
        a.endWrite(w2, 4096, false); // failed: counted, but no sectors
        a.endFlush(f1, true);
        DiskStats s = a.snapshot();
        assertThat(s.readsCompleted()).isEqualTo(1);
        assertThat(s.sectorsRead()).isEqualTo(16);
        assertThat(s.writesCompleted()).isEqualTo(2);
        assertThat(s.sectorsWritten()).isEqualTo(8);
        assertThat(s.flushesCompleted()).isEqualTo(1);
        assertThat(s.errors()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();
    }

    @Test
    void ioTicksCountBusyTimeOnceAndTimeInQueueCountsEveryRequest() throws Exception {
        IoAccounting a = new IoAccounting();
        long t0 = System.nanoTime();
        long x = a.start();
        long y = a.start();
        Thread.sleep(30);
        a.endWrite(x, 4096, true);
        a.endWrite(y, 4096, true);
        long elapsedMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        DiskStats s = a.snapshot();
        // lower bounds from the sleep, upper bound from the wall clock: no scheduling assumption
        assertThat(s.ioTicksMs()).isBetween(30L, elapsedMs + 1);
        assertThat(s.timeInQueueMs()).isGreaterThanOrEqualTo(60);
        Thread.sleep(20);
        assertThat(a.snapshot().ioTicksMs()).as("idle time is not busy time").isEqualTo(s.ioTicksMs());
    }

    /**
     * docs/lessons.md §26b: an in-flight counter that never returns to 0. Mixed concurrent load with
     * injected EIO, rejected (unaligned) requests and flushes, on the AIO and the thread engine:
     * afterwards both the leg and the fault wrapper report 0 in flight and count each request once.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"AIO", "THREADS"})
    @Timeout(value = 60, unit = TimeUnit.SECONDS)
    void lesson26bInFlightReturnsToZeroAfterErrorsAndRejections(String engine) throws Exception {
        Path f = dir.resolve("leg");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8L << 20);
        }
        IoEngine e = IoEngine.valueOf(engine);
        org.junit.jupiter.api.Assumptions.assumeTrue(e != IoEngine.AIO || BlockDevices.aioAvailable(), "no libaio");
        BlockDevice leg =
                BlockDevices.open(f, BlockDeviceOptions.defaults().withEngine(e).withQueueDepth(16));
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try (FaultInjectingBlockDevice dev = new FaultInjectingBlockDevice(leg)) {
            dev.failNextWrites(25);
            dev.failReads(0, 64);
            ConcurrentLinkedQueue<CompletableFuture<Void>> all = new ConcurrentLinkedQueue<>();
            AtomicInteger accepted = new AtomicInteger();
            List<java.util.concurrent.Future<?>> submitters = new java.util.ArrayList<>();
            for (int t = 0; t < 4; t++) {
                long seed = t;
                submitters.add(pool.submit(() -> {
                    Random r = new Random(seed);
                    ByteBuffer buf = AlignedBuffers.allocate(8192);
                    for (int i = 0; i < 150; i++) {
                        long off = (long) r.nextInt(2000) * 4096;
                        switch (r.nextInt(10)) {
                            case 0 ->
                                all.add(dev.writeAsync(
                                        off + 512, buf.duplicate().limit(4096))); // rejected
                            case 1 -> {
                                all.add(dev.flushAsync());
                            }
                            case 2, 3, 4 -> {
                                accepted.incrementAndGet();
                                all.add(dev.readAsync(off, AlignedBuffers.allocate(4096)));
                            }
                            default -> {
                                accepted.incrementAndGet();
                                all.add(dev.writeAsync(off, buf.duplicate().limit(4096)));
                            }
                        }
                    }
                }));
            }
            for (java.util.concurrent.Future<?> s : submitters) {
                s.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
            }
            for (CompletableFuture<Void> c : all) {
                c.handle((v, t) -> null).get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
            }
            DiskStats outer = dev.stats();
            DiskStats inner = leg.stats();
            assertThat(outer.inFlight()).isZero();
            assertThat(inner.inFlight()).isZero();
            assertThat(outer.readsCompleted() + outer.writesCompleted()).isEqualTo(accepted.get());
            assertThat(outer.errors()).isGreaterThanOrEqualTo(25);
            assertThat(inner.errors()).isZero(); // injected failures never reached the leg
        } finally {
            pool.shutdownNow();
        }
    }
}
