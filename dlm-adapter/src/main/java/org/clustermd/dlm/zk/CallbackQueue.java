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
    /** The thread running tasks while {@link #running}. */
    private Thread runner;

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
            runner = Thread.currentThread();
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
                runner = null;
                if (closed || !queue.isEmpty()) {
                    // the queue thread takes what is left, or stops if closed; woken for nothing
                    // else, it would cost a context switch per completion on the uncontended
                    // path, next to the caller it completes (docs/lessons.md §53)
                    notifyAll();
                }
            }
        }
    }

    private void loop() {
        while (true) {
            Runnable task;
            synchronized (this) {
                // while another thread runs tasks, wait for it even when closed (no spinning)
                while (running || (!closed && queue.isEmpty())) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (queue.isEmpty()) {
                    return; // closed, and everything ran
                }
                task = queue.pollFirst();
                running = true;
                runner = thread;
            }
            runQuietly(task);
            synchronized (this) {
                running = false;
                runner = null;
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

    /**
     * Runs what is queued, then stops the thread (waits at most 5 s, and not at all when called
     * from a task: the queue thread could only finish after that task returns).
     */
    @Override
    public void close() {
        boolean fromTask;
        synchronized (this) {
            closed = true;
            fromTask = runner == Thread.currentThread();
            notifyAll();
        }
        if (Thread.currentThread() != thread && !fromTask) {
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
