package org.clustermd.cluster.nbd;

import io.netty.util.concurrent.EventExecutor;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * Completions on their way from the target's threads to a connection's event loop. Only the
 * completion that finds no drain scheduled wakes the loop; the others ride along, and one
 * drain handles all of them (docs/nbd-cost.md). Writes, the common case, come as their
 * {@link WriteOp}s pushed on a lock-free stack through their own link, so queueing one
 * allocates nothing; anything else comes as a task.
 *
 * <p>Thread-safe: any thread adds; the loop drains.
 */
final class CompletionQueue {
    private final AtomicReference<WriteOp> writes = new AtomicReference<>();
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private final EventExecutor loop;
    private final Runnable drain;

    /** {@code drain} runs on {@code loop} and must call {@link #drainInto}. */
    CompletionQueue(EventExecutor loop, Runnable drain) {
        this.loop = loop;
        this.drain = drain;
    }

    void add(WriteOp op) {
        WriteOp top;
        do {
            top = writes.get();
            op.nextDone = top;
        } while (!writes.compareAndSet(top, op));
        wake();
    }

    void add(Runnable task) {
        tasks.add(task);
        wake();
    }

    private void wake() {
        if (!scheduled.compareAndSet(false, true)) return;
        // reaped by this connection's own loop: the drain runs when the reaping ends, before the
        // loop reads the socket again, rather than after the rest of the turn's reads. Only on
        // the connection's loop: a reaping on any other thread must not run this loop's drain.
        if (loop.inEventLoop() && LoopReaping.runAfterReaping(drain)) return;
        try {
            loop.execute(drain);
        } catch (RejectedExecutionException e) {
            drain.run(); // the loop is gone with the server: only buffers are left to give back
        }
    }

    /** Hands every queued write, oldest first, to {@code onWrite}, then runs every queued task. */
    void drainInto(Consumer<WriteOp> onWrite) {
        // cleared before taking: a completion queued after the last take schedules a new drain
        scheduled.set(false);
        while (true) {
            WriteOp top = writes.getAndSet(null);
            if (top == null) break;
            WriteOp oldest = null; // the stack is newest first: reverse it
            while (top != null) {
                WriteOp next = top.nextDone;
                top.nextDone = oldest;
                oldest = top;
                top = next;
            }
            while (oldest != null) {
                WriteOp next = oldest.nextDone;
                oldest.nextDone = null;
                onWrite.accept(oldest);
                oldest = next;
            }
        }
        Runnable r;
        while ((r = tasks.poll()) != null) r.run();
    }
}
