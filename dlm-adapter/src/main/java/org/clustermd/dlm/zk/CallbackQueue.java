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
 * <p>Tasks are {@link #enqueue enqueued} under the lockspace's lock, in the order they were
 * produced, and {@link #drain drained} after it is released: by the calling thread when nothing
 * else is running, otherwise by the {@code dlm-ast-<lockspace>} thread. Either way tasks never
 * overlap and keep their order. Callers must not hold the lockspace's lock when they call
 * {@link #drain}.
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

    /**
     * Appends a task. Called with the lockspace's lock held, so tasks keep the order in which they
     * were produced under that lock: a thread that releases the lock and is then preempted cannot
     * have its earlier state change overtaken by a later one from another thread (a completion on
     * ZooKeeper's event thread). Runs nothing; {@link #drain} does.
     */
    synchronized void enqueue(Runnable task) {
        if (!closed) {
            queue.addLast(task);
        }
    }

    /**
     * Runs queued tasks; called after the lockspace's lock was released. When no task is running,
     * the calling thread runs those queued at this moment (no thread hop on the uncontended path,
     * and no caller kept busy by a stream of other threads' tasks); anything left, or queued while
     * another thread runs, goes to the {@code dlm-ast-<lockspace>} thread.
     */
    void drain() {
        int budget;
        synchronized (this) {
            if (running || queue.isEmpty()) {
                return;
            }
            running = true;
            budget = queue.size();
        }
        try {
            for (int i = 0; i < budget; i++) {
                Runnable task;
                synchronized (this) {
                    task = queue.pollFirst();
                }
                if (task == null) {
                    break;
                }
                runQuietly(task);
            }
        } finally {
            synchronized (this) {
                running = false;
                if (!queue.isEmpty()) {
                    notifyAll();
                }
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
