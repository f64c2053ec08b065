package org.clustermd.raid1;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.raid1.io.EngineThread;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code md-<array>} thread: md's per-array thread running {@code md_check_recovery}. It
 * writes pending superblock updates, runs safemode, reaps the sync thread and starts the next
 * one. It sleeps until woken or until safemode needs it; an unexpected failure fences the
 * array (a critical thread, as in ZooKeeper).
 *
 * <p>Thread-safe: {@link #wakeup()} from anywhere.
 */
final class MdThread {
    private static final Logger log = LoggerFactory.getLogger(MdThread.class);
    private static final long MAX_SLEEP = TimeUnit.SECONDS.toNanos(1);

    private final Raid1Array array;
    private final Thread thread;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition wake = lock.newCondition();
    private boolean woken;
    private volatile boolean stopping;

    MdThread(Raid1Array array) {
        this.array = array;
        this.thread = new EngineThread(this::run, "md-" + array.name());
        this.thread.setUncaughtExceptionHandler((th, e) -> array.fence(FenceReason.CRITICAL_THREAD_FAILED, e));
    }

    void start() {
        thread.start();
    }

    void wakeup() {
        lock.lock();
        try {
            woken = true;
            wake.signal();
        } finally {
            lock.unlock();
        }
    }

    boolean isCurrent() {
        return Thread.currentThread() == thread;
    }

    /** Stops the thread after its current pass and waits for it. */
    void stop() {
        stopping = true;
        wakeup();
        if (isCurrent()) return;
        try {
            thread.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void run() {
        while (!stopping) {
            long sleep;
            try {
                sleep = array.mdCheck();
            } catch (RuntimeException | Error e) {
                log.error("{}: md thread failed", array.name(), e);
                array.fence(FenceReason.CRITICAL_THREAD_FAILED, e);
                return;
            }
            lock.lock();
            try {
                if (!woken && !stopping) wake.awaitNanos(Math.max(1, Math.min(sleep, MAX_SLEEP)));
                woken = false;
            } catch (InterruptedException e) {
                if (stopping) return;
            } finally {
                lock.unlock();
            }
        }
    }
}
