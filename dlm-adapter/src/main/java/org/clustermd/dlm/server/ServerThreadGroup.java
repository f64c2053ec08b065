package org.clustermd.dlm.server;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads of one in-process server. Work that creates ZooKeeper threads runs on a daemon
 * launcher thread inside a thread group of its own: every thread ZooKeeper starts from there
 * (and every thread those start) lands in the group and inherits daemon status, so
 * {@link #awaitTermination} can find and join all of them after a shutdown, and none can keep
 * the JVM alive even if ZooKeeper forgets one.
 *
 * <p>Thread-safe: {@link #run} may be called from any thread; each call blocks until its task
 * is done.
 */
final class ServerThreadGroup {
    private static final Logger LOG = LoggerFactory.getLogger(ServerThreadGroup.class);

    /** Work on the launcher thread; ZooKeeper's start-up methods throw these two. */
    interface Task<T> {
        T call() throws IOException, InterruptedException;
    }

    private static final Duration INTERRUPT_GRACE = Duration.ofMillis(200);

    private final ThreadGroup group;

    ServerThreadGroup(String name) {
        this.group = new ThreadGroup(name);
    }

    /** How long a stop waits for a server's threads: the session tracker alone may sleep a tickTime. */
    static Duration joinTimeout(ZooKeeperSettings settings) {
        return Duration.ofMillis(Math.max(10_000L, 3L * settings.tickTimeMs()));
    }

    String name() {
        return group.getName();
    }

    /**
     * Runs {@code task} on a new daemon launcher thread of this group and waits for it. A
     * failure is rethrown as it is when it is an {@link EmbeddedServerException}, else wrapped
     * with {@code code}.
     */
    <T> T run(String what, EmbeddedServerException.Code code, Task<T> task) throws EmbeddedServerException {
        AtomicReference<T> result = new AtomicReference<>();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread launcher = new Thread(group, () -> {
            try {
                result.set(task.call());
            } catch (Throwable t) {
                failure.set(t);
            }
        }, group.getName() + "-launcher");
        launcher.setDaemon(true);
        launcher.start();
        try {
            launcher.join();
        } catch (InterruptedException e) {
            // the launcher finishes on its own; the caller is told it did not wait
            Thread.currentThread().interrupt();
            throw new EmbeddedServerException(EmbeddedServerException.Code.INTERRUPTED,
                    "interrupted while " + what + " (" + group.getName() + ")", e);
        }
        Throwable t = failure.get();
        if (t == null) {
            return result.get();
        }
        if (t instanceof EmbeddedServerException ese) {
            throw ese;
        }
        if (t instanceof InterruptedException) {
            Thread.currentThread().interrupt();
            throw new EmbeddedServerException(EmbeddedServerException.Code.INTERRUPTED,
                    "interrupted while " + what + " (" + group.getName() + ")", t);
        }
        throw new EmbeddedServerException(code, what + " failed (" + group.getName() + "): " + t, t);
    }

    /** The live threads of this group, the calling thread excluded. */
    List<Thread> liveThreads() {
        Thread[] all = new Thread[group.activeCount() + 16];
        int n = group.enumerate(all, true);
        List<Thread> live = new ArrayList<>(n);
        for (Thread t : Arrays.asList(all).subList(0, n)) {
            if (t != Thread.currentThread() && t.isAlive()) {
                live.add(t);
            }
        }
        return live;
    }

    /**
     * Joins every thread of the group until {@code timeout} runs out. Called after ZooKeeper's
     * own shutdown, which stops its threads itself; most end at once, the session tracker
     * within a tickTime. Only the leader election's WorkerSender and WorkerReceiver are
     * interrupted after a short grace, since they would otherwise sleep out a 3 s queue poll
     * (an interrupt elsewhere makes ZooKeeper log a "severe unrecoverable error"). Returns the
     * names of threads still alive at the end.
     */
    List<String> awaitTermination(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        long interruptAt = System.nanoTime() + Math.min(timeout.toNanos() / 2, INTERRUPT_GRACE.toNanos());
        boolean interrupted = false;
        boolean wasInterrupted = Thread.interrupted();
        try {
            while (true) {
                List<Thread> live = liveThreads();
                if (live.isEmpty()) {
                    return List.of();
                }
                long now = System.nanoTime();
                if (now - deadline >= 0) {
                    List<String> names = live.stream().map(Thread::getName).toList();
                    LOG.warn("{}: threads still alive after {} ms: {}", group.getName(), timeout.toMillis(), names);
                    return names;
                }
                if (!interrupted && now - interruptAt >= 0) {
                    for (Thread t : live) {
                        if (t.getName().startsWith("WorkerSender[") || t.getName().startsWith("WorkerReceiver[")) {
                            LOG.debug("{}: interrupting {}", group.getName(), t.getName());
                            t.interrupt();
                        }
                    }
                    interrupted = true;
                }
                try {
                    live.get(0).join(Math.max(1, Math.min(50, (deadline - now) / 1_000_000)));
                } catch (InterruptedException e) {
                    wasInterrupted = true;
                }
            }
        } finally {
            if (wasInterrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
