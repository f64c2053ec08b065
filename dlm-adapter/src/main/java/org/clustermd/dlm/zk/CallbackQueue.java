package org.clustermd.dlm.zk;

import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Delivers a lockspace's callbacks and request completions one at a time, in the order the
 * lockspace produced them (the DLM's AST delivery): a grant that follows a membership change is
 * never seen before that change's recovery callback.
 *
 * <p>When nothing is queued or running, a task runs at once on the calling thread (no thread
 * hop on the uncontended path); otherwise it is queued behind the others and run by the
 * {@code dlm-ast-<lockspace>} thread. Either way tasks never overlap and keep their order.
 * Callers must not hold the lockspace's lock when they call {@link #execute}.
 *
 * <p>Thread-safe.
 */
final class CallbackQueue implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CallbackQueue.class);

    private final Deque<Runnable> queue = new ArrayDeque<>();
    private final Thread thread;
    private boolean running;
    private boolean closed;

    CallbackQueue(String name) {
        thread = new Thread(this::loop, "dlm-ast-" + name);
        thread.setDaemon(true);
        thread.start();
    }

    void execute(Runnable task) {
        synchronized (this) {
            if (closed) {
                return;
            }
            if (running || !queue.isEmpty()) {
                queue.addLast(task);
                notifyAll();
                return;
            }
            running = true;
        }
        runQuietly(task);
        synchronized (this) {
            running = false;
            if (!queue.isEmpty()) {
                notifyAll();
            }
        }
    }

    private void loop() {
        while (true) {
            Runnable task;
            synchronized (this) {
                while (!closed && (running || queue.isEmpty())) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (closed && queue.isEmpty()) {
                    return;
                }
                if (running) {
                    continue;
                }
                task = queue.pollFirst();
                running = true;
            }
            runQuietly(task);
            synchronized (this) {
                running = false;
                notifyAll();
            }
        }
    }

    private static void runQuietly(Runnable task) {
        try {
            task.run();
        } catch (RuntimeException | Error e) {
            LOG.error("lock manager callback threw; continuing with the next one", e);
        }
    }

    /** Runs what is queued, then stops the thread (waits at most 5 s). */
    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        if (Thread.currentThread() != thread) {
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
