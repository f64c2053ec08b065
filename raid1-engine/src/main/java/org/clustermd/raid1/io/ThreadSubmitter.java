package org.clustermd.raid1.io;

import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * {@link IoEngine#THREADS}: a fixed pool of I/O threads for one device, each running the same
 * blocking pread/pwrite/fdatasync as the caller-thread path. Concurrency reaches the device as
 * one blocked thread per request in flight, up to the pool size.
 *
 * <p>Thread-safe.
 */
final class ThreadSubmitter implements IoSubmitter {
    private final PosixBlockDevice device;
    private final ThreadPoolExecutor pool;

    ThreadSubmitter(PosixBlockDevice device, int threads) {
        this.device = device;
        String prefix = "blkdev-" + device.shortName() + "-";
        AtomicInteger n = new AtomicInteger();
        ThreadFactory tf = r -> {
            return new EngineThread(r, prefix + n.getAndIncrement());
        };
        this.pool = new ThreadPoolExecutor(threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), tf);
        this.pool.allowCoreThreadTimeOut(true);
    }

    @Override
    public void submit(IoRequest r) {
        try {
            pool.execute(() -> device.finish(r, device.execute(r)));
        } catch (RejectedExecutionException e) {
            device.finish(
                    r, new BlockDeviceException(BlockDeviceException.Code.CLOSED, device.name(), "device is closing"));
        }
    }

    @Override
    public void close() {
        pool.shutdown();
        try {
            pool.awaitTermination(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
