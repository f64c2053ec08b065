package org.clustermd.raid1;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Supplier;
import org.clustermd.raid1.io.EngineThread;

/**
 * The {@code md-submit-<array>} thread: requests submitted on engine threads run their steps
 * before the leg I/O there, in submission order, since those steps may block where an engine
 * thread must not (the flush of a new bitmap bit completes on the very reaper thread that would
 * wait for it). Started when first needed, it times out when idle.
 *
 * <p>Thread-safe: {@link #handOff} from any thread; {@link #shutdown} once, when the array closes.
 */
final class Submitter {
    private final String name;
    private final ThreadPoolExecutor executor;

    /** @param fence called when the thread dies of an unexpected failure */
    Submitter(String name, BiConsumer<FenceReason, Throwable> fence) {
        this.name = name;
        // not an EngineThread: it exists to block where engine threads must not
        this.executor = new ThreadPoolExecutor(1, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "md-submit-" + name);
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((th, e) -> fence.accept(FenceReason.CRITICAL_THREAD_FAILED, e));
            return t;
        });
        this.executor.allowCoreThreadTimeOut(true);
    }

    /**
     * Runs a request submitted on an engine thread on {@code md-submit}, in submission order.
     * Only the steps before the leg I/O run there; the I/O itself completes as usual.
     */
    CompletableFuture<Void> handOff(Supplier<CompletableFuture<Void>> request) {
        CompletableFuture<Void> out = new CompletableFuture<>();
        try {
            executor.execute(() -> {
                CompletableFuture<Void> f;
                try {
                    f = request.get();
                } catch (RuntimeException e) { // the request paths never throw; keep the promise anyway
                    f = CompletableFuture.failedFuture(e);
                }
                f.whenComplete((v, t) -> {
                    if (t == null) out.complete(null);
                    else out.completeExceptionally(t);
                });
            });
        } catch (RejectedExecutionException e) {
            out.completeExceptionally(new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": the array is closed"));
        }
        return out;
    }

    /** The blocking forms would wait on the thread that has to complete them. */
    static void checkMayBlock(String array, String what) {
        if (EngineThread.current()) {
            throw new IllegalStateException(array + ": blocking " + what + " called on engine thread "
                    + Thread.currentThread().getName() + "; use the async form from an I/O completion");
        }
    }

    /** Queued requests still run, and fail as closed. */
    void shutdown() {
        executor.shutdown();
    }

    boolean isTerminated() {
        return executor.isTerminated();
    }
}
