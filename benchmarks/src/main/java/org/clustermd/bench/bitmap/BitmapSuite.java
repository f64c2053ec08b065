package org.clustermd.bench.bitmap;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.Suite;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapOptions;
import org.clustermd.bitmap.BitmapStats;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.bitmap.storage.FileBitmapStorage;

/**
 * {@code benchmarks/run bitmap [--rounds N] [--seconds S] [--dir PATH] [--leg-us U]}.
 *
 * <p>BM1 is a harness loop (no JMH): each thread runs {@code startWrite + endWrite} of 4 KiB on
 * a chunk that a held write keeps dirty, after a one-second warm-up; every configuration runs
 * {@code rounds} times, alternating, and the median is reported. "2 threads" means both on the
 * same chunk (the contended case); two threads on different chunks are in the details.
 *
 * <p>BM2 runs 4 writer threads doing random 4 KiB writes over a working set of 64 chunks of
 * 64 MiB (md's default internal-bitmap chunk) for {@code seconds}; each write is
 * {@code startWrite}, a simulated leg write of {@code leg-us} microseconds, {@code endWrite}.
 * The bitmap lives in a file under {@code --dir} and runs its own daemon with md's default
 * {@code daemon_sleep} of 5 s. The figure is storage flushes of the bitmap divided by writes,
 * cold start included.
 *
 * <p>Not thread-safe; run by {@link org.clustermd.bench.BenchMain} one suite at a time.
 */
public final class BitmapSuite implements Suite {
    private static final long BM1_GOAL = 5_000_000L;
    private static final double BM2_GOAL = 0.05;
    private static final long CHUNK_64M = 64L << 20;

    @Override
    public String name() {
        return "bitmap";
    }

    @Override
    public List<Figure> run(BenchOptions options) throws BenchException {
        int rounds = options.intValue("rounds", 5);
        int seconds = options.intValue("seconds", 15);
        long legMicros = options.intValue("leg-us", 100);
        Path dir = options.dir();
        try {
            Files.createDirectories(dir);
            List<Figure> out = new ArrayList<>();
            out.addAll(bm1(dir, rounds));
            out.add(bm2(dir, seconds, legMicros));
            return out;
        } catch (IOException e) {
            throw new BenchException("bitmap suite failed in " + dir + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted", e);
        }
    }

    // ---------------------------------------------------------------- BM1

    private List<Figure> bm1(Path dir, int rounds) throws IOException, InterruptedException {
        Path file = Files.createTempFile(dir, "clustermd-bm1-", ".bitmap");
        try (FileBitmapStorage storage = FileBitmapStorage.open(file, 0, 4 * 4096)) {
            BitmapArea.create(
                    storage, BitmapSuperblock.clustered(UUID.randomUUID(), 1L << 31, CHUNK_64M, 4, "bench"), true);
            try (WriteIntentBitmap b = WriteIntentBitmap.open(
                    storage, 0, BitmapOptions.builder().name("bm1").build())) {
                long chunkSectors = CHUNK_64M / 512;
                // hold one write on chunks 1 and 2 so they stay dirty all along
                b.startWrite(chunkSectors, 8);
                b.startWrite(2 * chunkSectors, 8);
                long[] sameChunk = {chunkSectors, chunkSectors};
                long[] ownChunks = {chunkSectors, 2 * chunkSectors};
                double[] one = new double[rounds];
                double[] twoSame = new double[rounds];
                double[] twoOwn = new double[rounds];
                for (int r = 0; r < rounds; r++) {
                    one[r] = opsPerSecond(b, new long[] {chunkSectors}, 2);
                    twoSame[r] = opsPerSecond(b, sameChunk, 2);
                    twoOwn[r] = opsPerSecond(b, ownChunks, 2);
                    System.err.printf(
                            "BM1 round %d: 1 thread %.3g, 2 threads same chunk %.3g, own chunks %.3g ops/s%n",
                            r + 1, one[r], twoSame[r], twoOwn[r]);
                }
                BitmapStats st = b.stats();
                b.endWrite(chunkSectors, 8, true);
                b.endWrite(2 * chunkSectors, 8, true);
                List<Figure> figs = new ArrayList<>();
                double m1 = median(one);
                figs.add(new Figure(
                                "BM1",
                                "bitmap startWrite+endWrite on a dirty chunk, 1 thread (ratio = ops/s / 5,000,000)",
                                m1,
                                Double.NaN,
                                m1 / BM1_GOAL,
                                ">=1.0",
                                "ops/s")
                        .with("rounds", rounds)
                        .with("per_round", list(one))
                        .with("seconds_per_round", 2)
                        .with("storage_writes_during_runs", st.storageWrites()));
                double m2 = median(twoSame);
                figs.add(new Figure(
                                "BM1",
                                "bitmap startWrite+endWrite on a dirty chunk, 2 threads on the same chunk"
                                        + " (ratio = total ops/s / 5,000,000)",
                                m2,
                                Double.NaN,
                                m2 / BM1_GOAL,
                                ">=1.0",
                                "ops/s")
                        .with("rounds", rounds)
                        .with("per_round", list(twoSame))
                        .with("two_threads_own_chunks_median", median(twoOwn))
                        .with("two_threads_own_chunks_per_round", list(twoOwn))
                        .with("cores", Runtime.getRuntime().availableProcessors()));
                return figs;
            }
        } finally {
            Files.deleteIfExists(file);
        }
    }

    /** Total startWrite+endWrite pairs per second of {@code sectors.length} threads. */
    private static double opsPerSecond(WriteIntentBitmap b, long[] sectors, int seconds) throws InterruptedException {
        int threads = sectors.length;
        AtomicLong total = new AtomicLong();
        CountDownLatch ready = new CountDownLatch(threads);
        CountDownLatch go = new CountDownLatch(1);
        long[] window = new long[2]; // [start, end] of the measured interval, nanoTime
        List<Thread> ts = new ArrayList<>();
        Throwable[] failure = new Throwable[1];
        for (int t = 0; t < threads; t++) {
            long sector = sectors[t];
            Thread th = new Thread(
                    () -> {
                        try {
                            loop(b, sector, System.nanoTime() + 1_000_000_000L); // warm-up
                            ready.countDown();
                            go.await();
                            total.addAndGet(loop(b, sector, window[1]));
                        } catch (Throwable e) {
                            failure[0] = e;
                        }
                    },
                    "bm1-" + t);
            ts.add(th);
            th.start();
        }
        ready.await();
        window[0] = System.nanoTime();
        window[1] = window[0] + seconds * 1_000_000_000L;
        go.countDown();
        for (Thread th : ts) th.join();
        if (failure[0] != null) throw new IllegalStateException("BM1 loop failed", failure[0]);
        return total.get() / (seconds * 1.0);
    }

    private static long loop(WriteIntentBitmap b, long sector, long until) throws BitmapException {
        long ops = 0;
        while (System.nanoTime() < until) {
            for (int i = 0; i < 4096; i++) {
                b.startWrite(sector, 8);
                b.endWrite(sector, 8, true);
            }
            ops += 4096;
        }
        return ops;
    }

    // ---------------------------------------------------------------- BM2

    private Figure bm2(Path dir, int seconds, long legMicros) throws IOException, InterruptedException {
        Path file = Files.createTempFile(dir, "clustermd-bm2-", ".bitmap");
        int threads = 4;
        int workingChunks = 64;
        long syncSize = 1024 * CHUNK_64M / 512; // a 64 GiB array
        long windowSectors = workingChunks * CHUNK_64M / 512;
        try (FileBitmapStorage storage = FileBitmapStorage.open(file, 0, 4 * 4096)) {
            BitmapArea.create(
                    storage, BitmapSuperblock.clustered(UUID.randomUUID(), syncSize, CHUNK_64M, 4, "bench"), true);
            WriteIntentBitmap b = WriteIntentBitmap.open(
                    storage, 0, BitmapOptions.builder().name("bm2").build());
            BitmapStats before = b.stats();
            AtomicLong writes = new AtomicLong();
            long end = System.nanoTime() + seconds * 1_000_000_000L;
            List<Thread> ts = new ArrayList<>();
            Throwable[] failure = new Throwable[1];
            for (int t = 0; t < threads; t++) {
                Thread th = new Thread(
                        () -> {
                            ThreadLocalRandom r = ThreadLocalRandom.current();
                            long n = 0;
                            try {
                                while (System.nanoTime() < end) {
                                    long sector = r.nextLong(windowSectors / 8) * 8;
                                    b.startWrite(sector, 8);
                                    LockSupport.parkNanos(legMicros * 1000);
                                    b.endWrite(sector, 8, true);
                                    n++;
                                }
                            } catch (Throwable e) {
                                failure[0] = e;
                            }
                            writes.addAndGet(n);
                        },
                        "bm2-" + t);
                ts.add(th);
                th.start();
            }
            for (Thread th : ts) th.join();
            if (failure[0] != null) throw new IOException("BM2 writer failed", failure[0]);
            BitmapStats after = b.stats();
            b.close();
            long flushes = after.storageFlushes() - before.storageFlushes();
            double perWrite = flushes / (double) writes.get();
            System.err.printf(
                    "BM2: %d writes, %d bitmap flushes, %d bits set, %d cleared%n",
                    writes.get(), flushes, after.bitsSet(), after.bitsCleared());
            return new Figure(
                            "BM2",
                            "bitmap flushes per 4 KiB random write within the dirty window (ratio = flushes/write)",
                            perWrite,
                            Double.NaN,
                            perWrite,
                            "<=" + BM2_GOAL,
                            "flushes/write")
                    .with("writes", writes.get())
                    .with("flushes", flushes)
                    .with("bits_set", after.bitsSet())
                    .with("bits_cleared", after.bitsCleared())
                    .with("threads", threads)
                    .with("working_set_chunks", workingChunks)
                    .with("chunk_bytes", CHUNK_64M)
                    .with("daemon_sleep_s", 5)
                    .with("seconds", seconds)
                    .with("simulated_leg_write_us", legMicros)
                    .with("storage", "file in " + dir);
        } finally {
            Files.deleteIfExists(file);
        }
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static List<Double> list(double[] v) {
        List<Double> out = new ArrayList<>();
        for (double d : v) out.add(d);
        return out;
    }
}
