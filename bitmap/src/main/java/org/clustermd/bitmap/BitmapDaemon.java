package org.clustermd.bitmap;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@code bitmap-flush-<name>} thread (md's bitmap daemon, run from the md thread every
 * {@code daemon_sleep}): sleeps until the next pass is due and runs
 * {@link WriteIntentBitmap#daemonWork()}. Storage failures are logged and retried at the next
 * pass (bits that cannot be cleared simply stay set, which is safe).
 *
 * <p>Thread-safe: {@link #start()} and {@link #stop()} may be called from any thread, once each.
 */
final class BitmapDaemon {
    private static final Logger log = LoggerFactory.getLogger(BitmapDaemon.class);
    /** Upper bound of one sleep, so a manual clock that jumps is noticed within this time. */
    private static final long MAX_PARK_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final WriteIntentBitmap bitmap;
    private final Consumer<Throwable> failureListener;
    private final Thread thread;
    private volatile boolean stopping;

    BitmapDaemon(String name, WriteIntentBitmap bitmap, Consumer<Throwable> failureListener) {
        this.bitmap = bitmap;
        this.failureListener = failureListener;
        this.thread = new Thread(this::run, "bitmap-flush-" + name);
        this.thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** Stops the thread and waits for it (a pass in progress finishes first). */
    void stop() {
        stopping = true;
        LockSupport.unpark(thread);
        if (Thread.currentThread() == thread) return;
        boolean interrupted = false;
        while (thread.isAlive()) {
            try {
                thread.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private void tell(Throwable e) {
        try {
            failureListener.accept(e);
        } catch (RuntimeException listenerFailure) {
            log.warn("{}: daemon failure listener failed", thread.getName(), listenerFailure);
        }
    }

    private void run() {
        while (!stopping) {
            long wait = bitmap.nanosUntilNextPass();
            if (wait > 0) {
                LockSupport.parkNanos(this, Math.min(wait, MAX_PARK_NANOS));
                continue;
            }
            try {
                bitmap.daemonWork();
            } catch (BitmapException e) {
                if (e.code() == BitmapException.Code.CLOSED) return;
                log.warn("{}: bitmap daemon pass failed, bits stay set until the next pass", thread.getName(), e);
                tell(e);
            } catch (RuntimeException | Error e) {
                log.error("{}: bitmap daemon stopped by an unexpected failure", thread.getName(), e);
                tell(e);
                throw e;
            }
        }
    }
}
