package org.clustermd.raid1;

import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.io.EngineThread;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers {@link ArrayListener} calls in order on the {@code md-events-<array>} thread, so no
 * listener ever runs under an engine lock or on an I/O completion thread (md's
 * {@code sysfs_notify} is asynchronous too).
 *
 * <p>Thread-safe.
 */
final class Notifier {
    private static final Logger log = LoggerFactory.getLogger(Notifier.class);

    private final CopyOnWriteArrayList<ArrayListener> listeners = new CopyOnWriteArrayList<>();
    private final ExecutorService executor;

    Notifier(String arrayName) {
        ThreadPoolExecutor ex =
                new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
                    Thread t = new EngineThread(r, "md-events-" + arrayName);
                    // a listener's Error: the thread is replaced, but never without a word
                    t.setUncaughtExceptionHandler(
                            (th, e) -> log.error("{}: array listener thread died", th.getName(), e));
                    return t;
                });
        this.executor = ex;
    }

    void add(ArrayListener l) {
        listeners.add(l);
    }

    void remove(ArrayListener l) {
        listeners.remove(l);
    }

    void changed(AttributeChange change) {
        post(l -> l.attributeChanged(change));
    }

    void fenced(FenceReason reason, Throwable cause) {
        post(l -> l.fenced(reason, cause));
    }

    private void post(java.util.function.Consumer<ArrayListener> call) {
        try {
            executor.execute(() -> {
                for (ArrayListener l : listeners) {
                    try {
                        call.accept(l);
                    } catch (RuntimeException e) {
                        log.warn("array listener {} failed", l, e);
                    }
                }
            });
        } catch (RejectedExecutionException closed) {
            // the array is gone; nobody is listening any more
        }
    }

    /** Delivers what is queued, then stops the thread. */
    void close() {
        executor.shutdown();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        executor.shutdownNow();
    }
}
