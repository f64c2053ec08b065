package org.clustermd.raid1.io;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Manual measurement (not a test): 4 KiB O_DIRECT write + fdatasync latency, and a 2-leg
 * mirrored 4 KiB random write at queue depth 32 per engine, printed as JSON lines. Usage:
 * {@code DeviceProbe DIR [seconds]}; DIR must be on a file system that takes O_DIRECT.
 */
public final class DeviceProbe {
    private DeviceProbe() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        int secs = args.length > 1 ? Integer.parseInt(args[1]) : 5;
        long size = 1L << 30;
        Path a = dir.resolve("probe-leg0");
        Path b = dir.resolve("probe-leg1");
        for (Path p : new Path[] {a, b}) {
            try (RandomAccessFile raf = new RandomAccessFile(p.toFile(), "rw")) {
                raf.setLength(size);
            }
        }
        syncLatency(a);
        for (int round = 0; round < 2; round++) {
            for (IoEngine e : IoEngine.values()) {
                mirrored(a, b, e, secs);
            }
        }
    }

    static void syncLatency(Path p) throws Exception {
        try (BlockDevice d = BlockDevices.open(p)) {
            ByteBuffer buf = AlignedBuffers.allocate(4096);
            int n = 2000;
            long[] t = new long[n];
            for (int i = 0; i < n + 200; i++) {
                long off = (long) ThreadLocalRandom.current().nextInt(4096) * 4096;
                long t0 = System.nanoTime();
                d.write(off, buf);
                d.flush();
                if (i >= 200) {
                    t[i - 200] = System.nanoTime() - t0;
                }
            }
            Arrays.sort(t);
            System.out.printf(
                    "{\"probe\":\"4k O_DIRECT pwrite+fdatasync\",\"p50_us\":%.1f,\"p99_us\":%.1f,\"mean_us\":%.1f}%n",
                    t[n / 2] / 1000.0,
                    t[n * 99 / 100] / 1000.0,
                    Arrays.stream(t).average().orElse(0) / 1000.0);
        }
    }

    static void mirrored(Path a, Path b, IoEngine engine, int secs) throws Exception {
        BlockDeviceOptions o = BlockDeviceOptions.defaults().withEngine(engine).withQueueDepth(32);
        try (BlockDevice l0 = BlockDevices.open(a, o);
                BlockDevice l1 = BlockDevices.open(b, o)) {
            int qd = 32;
            long blocks = l0.size() / 4096;
            AtomicLong done = new AtomicLong();
            long end = System.nanoTime() + secs * 1_000_000_000L;
            CompletableFuture<?>[] lanes = new CompletableFuture<?>[qd];
            for (int i = 0; i < qd; i++) {
                ByteBuffer buf = AlignedBuffers.allocate(4096);
                CompletableFuture<Void> lane = new CompletableFuture<>();
                lanes[i] = lane;
                lane(l0, l1, buf, blocks, end, done, lane);
            }
            CompletableFuture.allOf(lanes).get();
            System.out.printf(
                    "{\"probe\":\"mirror 4k randwrite qd32\",\"engine\":\"%s\",\"iops\":%.0f}%n",
                    engine, done.get() / (double) secs);
        }
    }

    private static void lane(
            BlockDevice l0,
            BlockDevice l1,
            ByteBuffer buf,
            long blocks,
            long end,
            AtomicLong done,
            CompletableFuture<Void> finished) {
        if (System.nanoTime() >= end) {
            finished.complete(null);
            return;
        }
        long off = ThreadLocalRandom.current().nextLong(blocks) * 4096;
        CompletableFuture.allOf(l0.writeAsync(off, buf), l1.writeAsync(off, buf))
                .whenComplete((v, t) -> {
                    if (t != null) {
                        finished.completeExceptionally(t);
                        return;
                    }
                    done.incrementAndGet();
                    lane(l0, l1, buf, blocks, end, done, finished);
                });
    }
}
