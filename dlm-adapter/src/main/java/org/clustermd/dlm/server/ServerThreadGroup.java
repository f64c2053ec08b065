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
 * (and every thread those start) lands in the group, so {@link #awaitTermination} can find and
 * join all of them after a shutdown however ZooKeeper created them. Most inherit daemon
 * status from the launcher; threads from a JDK executor do not (its default factory makes
 * them non-daemon), which is why a stop joins them, interrupting stragglers, rather than
 * trusting daemon status.
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

    /** Joins the group's threads after a server of these settings shut down (see the two-argument form). */
    List<String> awaitTermination(ZooKeeperSettings settings) {
        return awaitTermination(joinTimeout(settings), Duration.ofMillis(settings.tickTimeMs() + 500L));
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
        Thread launcher = new Thread(
                group,
                () -> {
                    try {
                        result.set(task.call());
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                },
                group.getName() + "-launcher");
        launcher.setDaemon(true);
        launcher.start();
        try {
            launcher.join();
        } catch (InterruptedException e) {
            // the launcher finishes on its own; the caller is told it did not wait
            Thread.currentThread().interrupt();
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.INTERRUPTED,
                    "interrupted while " + what + " (" + group.getName() + ")",
                    e);
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
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.INTERRUPTED,
                    "interrupted while " + what + " (" + group.getName() + ")",
                    t);
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
     * own shutdown, which stops its threads itself: most end at once, the session tracker
     * within a tickTime. Two kinds are helped along. The leader election's WorkerSender and
     * WorkerReceiver would sleep out a 3 s queue poll, so they are interrupted after a short
     * grace. Any thread still alive after {@code interruptAllAfter} (set past a tickTime, since
     * an interrupted session tracker logs a "severe unrecoverable error") is interrupted too:
     * a leader's LearnerHandler can leave its "Sender-" thread waiting on a queue nobody feeds,
     * and executor threads are not daemons. Returns the names of threads still alive at the end.
     */
    List<String> awaitTermination(Duration timeout, Duration interruptAllAfter) {
        long start = System.nanoTime();
        long deadline = start + timeout.toNanos();
        long interruptElectionAt = start + Math.min(timeout.toNanos() / 2, INTERRUPT_GRACE.toNanos());
        long interruptAllAt = start + Math.min(timeout.toNanos() / 2, interruptAllAfter.toNanos());
        boolean electionInterrupted = false;
        boolean allInterrupted = false;
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
                if (!electionInterrupted && now - interruptElectionAt >= 0) {
                    for (Thread t : live) {
                        if (t.getName().startsWith("WorkerSender[")
                                || t.getName().startsWith("WorkerReceiver[")) {
                            t.interrupt();
                        }
                    }
                    electionInterrupted = true;
                }
                if (!allInterrupted && now - interruptAllAt >= 0) {
                    LOG.debug("{}: interrupting {}", group.getName(), live);
                    live.forEach(Thread::interrupt);
                    allInterrupted = true;
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
