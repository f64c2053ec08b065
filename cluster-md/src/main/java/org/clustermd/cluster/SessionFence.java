package org.clustermd.cluster;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.raid1.FenceReason;
import org.clustermd.raid1.Mddev;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What the array does when the lock manager's session changes health (docs/design.md §3, docs/lessons.md §31
 * and docs/lessons.md §34): SUSPENDED means another node may get this node's bitmap lock at any moment, so I/O
 * is held at once ({@link Mddev#holdForSession}); it stays held until ACTIVE again with the same
 * session, even when the requests in flight do not drain within the array's I/O wait (a request
 * that waits for the hold longer than that fails; the hold itself does not end). ACTIVE lets I/O
 * flow; LOST fences the array for good ({@link FenceReason#CLUSTER_SESSION_LOST}) and then lets
 * the held requests fail. The session hold is not a quiesce: an administrator's
 * {@link Mddev#unquiesce} cannot end it, nor can ACTIVE end a quiesce (issue 11 item 6).
 *
 * <p>The lockspace reports health on its session thread, which must not block, so every
 * reaction runs in order on one {@code cluster-session-<array>} thread. The one reaction that
 * waits (the drain after SUSPENDED, up to the I/O wait) is interrupted when LOST or CLOSED
 * arrives, so the fence follows the lost session at once (docs/lessons.md §36).
 *
 * <p>Thread-safe.
 */
final class SessionFence {
    private static final Logger log = LoggerFactory.getLogger(SessionFence.class);

    private final Mddev array;
    private final Runnable lost;
    private final ExecutorService thread;
    /** Only touched on the session thread. */
    private boolean held;
    /**
     * The session thread while it waits for the requests in flight to drain after SUSPENDED;
     * guarded by this. LOST and CLOSED interrupt that wait: the fence must not queue behind a
     * drain that a lost session can make last the whole I/O wait (PausedNodeTest).
     */
    private Thread draining;

    /** @param lost run on the session thread after the array is fenced */
    SessionFence(Mddev array, Runnable lost) {
        this.array = array;
        this.lost = lost;
        this.thread = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "cluster-session-" + array.name());
            t.setDaemon(true);
            // without this thread nothing holds or fences I/O when the session goes: stop writing
            t.setUncaughtExceptionHandler((th, e) -> array.fence(FenceReason.CRITICAL_THREAD_FAILED, e));
            return t;
        });
    }

    /** The lockspace's stateChanged callback: queue the reaction, never block. */
    void stateChanged(LockSpaceState s) {
        try {
            thread.execute(() -> react(s));
        } catch (RejectedExecutionException e) {
            log.debug("{}: session {} after close", array.name(), s);
        }
        if (s == LockSpaceState.LOST || s == LockSpaceState.CLOSED) {
            synchronized (this) {
                if (draining != null) draining.interrupt();
            }
        }
    }

    private void react(LockSpaceState s) {
        switch (s) {
            case SUSPENDED -> {
                if (held) return;
                log.warn("{}: lock manager session suspended: holding I/O until it is back", array.name());
                held = true;
                synchronized (this) {
                    draining = Thread.currentThread();
                }
                boolean drained;
                try {
                    drained = array.holdForSession();
                } finally {
                    synchronized (this) {
                        draining = null;
                        Thread.interrupted(); // an interrupt meant for the drain is spent; the next reaction runs clean
                    }
                }
                if (!drained) {
                    log.warn(
                            "{}: requests in flight did not drain (timed out, or the session ended meanwhile); I/O stays"
                                    + " held all the same",
                            array.name());
                }
            }
            case ACTIVE -> release("session is back");
            case LOST -> {
                array.fence(
                        FenceReason.CLUSTER_SESSION_LOST,
                        new IllegalStateException("the lock manager session of " + array.name() + " was lost"));
                release("session lost, array fenced");
                lost.run();
            }
            case CLOSED -> release("left");
        }
    }

    private void release(String why) {
        if (!held) return;
        held = false;
        log.info("{}: letting I/O flow again ({})", array.name(), why);
        array.releaseSessionHold();
    }

    /** Runs what is queued, then stops the thread (bounded). */
    void close() {
        thread.shutdown();
        try {
            if (!thread.awaitTermination(30, TimeUnit.SECONDS)) thread.shutdownNow();
        } catch (InterruptedException e) {
            thread.shutdownNow();
            Thread.currentThread().interrupt();
        }
    }
}
