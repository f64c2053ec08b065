package org.clustermd.dlm.zk;

import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.ZooKeeper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps one session's {@link Lease} fed and watched, on one daemon thread per
 * {@link ZkLockManager}:
 * <ul>
 *   <li>every twelfth of the session timeout it sends a {@code sync}: the server touches the
 *       session when it receives it, the leader checks the session before it is answered, and
 *       it is not a write, so the lease costs no transaction. Every answer is a probe and
 *       confirms the probes answered a third of the timeout before it was sent;</li>
 *   <li>it tells the manager when the lease is about to end, {@link #GUARD_DIVISOR a small guard}
 *       before the deadline so that SUSPENDED is reported no later than the deadline even when
 *       this thread wakes a little late, and again when it is valid once more.</li>
 * </ul>
 * The send time is taken before the request is handed to the client: the server heard from
 * this node at that time or later.
 *
 * <p>Thread-safe.
 */
final class LeaseRenewer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(LeaseRenewer.class);
    /**
     * Renewals per session timeout: with confirmation a third of the timeout later, a lease of
     * five sixths then has between 5/12 and 1/2 of the timeout left at any moment.
     */
    static final int RENEWALS_PER_TIMEOUT = 12;
    /** The lapse is reported this part of the session timeout before the deadline. */
    static final int GUARD_DIVISOR = 30;

    /** What the renewer tells its manager; called on the renewer's thread only. */
    interface HealthListener {
        /** The lease may have changed between usable and not; re-evaluate. */
        void leaseHealthChanged();

        /** The deadline moved (wakes waiters). */
        void leaseExtended();
    }

    private final CuratorFramework client;
    private final Lease lease;
    private final String path;
    private final long requestedTimeoutNanos;
    private final HealthListener listener;
    private final Thread thread;
    // guarded by this
    private boolean closed;
    private boolean changed;
    /** Whether the lease counts as valid for the lockspaces (written only by the thread). */
    private volatile boolean usable;

    private final Object usableMonitor = new Object();

    LeaseRenewer(
            CuratorFramework client,
            Lease lease,
            String path,
            long requestedTimeoutNanos,
            String nodeName,
            HealthListener listener) {
        this.client = client;
        this.lease = lease;
        this.path = path;
        this.requestedTimeoutNanos = requestedTimeoutNanos;
        this.listener = listener;
        this.thread = new Thread(this::loop, "dlm-lease-" + nodeName);
        thread.setDaemon(true);
    }

    /** Takes the lease's state as it is now (before {@link #start}). */
    void prime() {
        usable = usableNow(System.nanoTime(), timeoutNanos());
    }

    void start() {
        thread.start();
    }

    /** Waits until {@link #usable()}, at most {@code timeoutNanos}; returns whether it is. */
    boolean awaitUsable(long timeoutNanos) throws InterruptedException {
        long end = System.nanoTime() + timeoutNanos;
        synchronized (usableMonitor) {
            long left;
            while (!usable && (left = end - System.nanoTime()) > 0) {
                TimeUnit.NANOSECONDS.timedWait(usableMonitor, left);
            }
            return usable;
        }
    }

    /** True while the lease is valid and not within its guard of the end. */
    boolean usable() {
        return usable;
    }

    Lease lease() {
        return lease;
    }

    /** Wakes the thread to re-evaluate (a connection state changed). */
    synchronized void wake() {
        changed = true;
        notifyAll();
    }

    /** The negotiated session timeout, or the requested one while not connected. */
    long timeoutNanos() {
        try {
            int ms = client.getZookeeperClient().getZooKeeper().getSessionTimeout();
            if (ms > 0) {
                return TimeUnit.MILLISECONDS.toNanos(ms);
            }
        } catch (Exception e) {
            // not connected: fall back
        }
        return requestedTimeoutNanos;
    }

    private boolean usableNow(long now, long timeout) {
        return lease.valid() && now - (lease.deadline() - timeout / GUARD_DIVISOR) < 0;
    }

    private void loop() {
        long nextSend = System.nanoTime();
        while (true) {
            long timeout = timeoutNanos();
            long now = System.nanoTime();
            if (now - nextSend >= 0) {
                send();
                nextSend = now + timeout / RENEWALS_PER_TIMEOUT;
            }
            boolean u = usableNow(now, timeout);
            if (u != usable) {
                synchronized (usableMonitor) {
                    usable = u;
                    usableMonitor.notifyAll();
                }
            }
            try {
                // also when u did not change: a connection state change needs a look too
                listener.leaseHealthChanged();
            } catch (RuntimeException e) {
                // this thread must live on: it is what reports the lease's end
                LOG.error("lease health listener failed", e);
            }
            long wakeAt = nextSend;
            if (u) {
                long lapseAt = lease.deadline() - timeout / GUARD_DIVISOR;
                if (lapseAt - wakeAt < 0) {
                    wakeAt = lapseAt;
                }
            }
            synchronized (this) {
                try {
                    long wait;
                    while (!closed && !changed && (wait = wakeAt - System.nanoTime()) > 0) {
                        TimeUnit.NANOSECONDS.timedWait(this, wait);
                    }
                } catch (InterruptedException e) {
                    return;
                }
                if (closed) {
                    return;
                }
                changed = false;
            }
        }
    }

    private void send() {
        ZooKeeper zk;
        try {
            zk = client.getZookeeperClient().getZooKeeper();
        } catch (Exception e) {
            return; // no session now; the next round tries again
        }
        long session = zk.getSessionId();
        long sent = System.nanoTime();
        try {
            zk.sync(path, (rc, p, ctx) -> onAnswer(session, sent, rc, true), null);
        } catch (RuntimeException e) {
            LOG.debug("lease renewal not sent: {}", e.toString());
        }
    }

    /** On the ZooKeeper event thread. */
    private void onAnswer(long session, long sent, int rc, boolean leaderChecked) {
        if (Code.get(rc) != Code.OK) {
            return; // not answered by a server that still holds the session
        }
        if (session == 0 || session != currentSession()) {
            return;
        }
        if (lease.answered(session, sent, timeoutNanos(), leaderChecked)) {
            listener.leaseExtended();
        }
        wake();
    }

    private long currentSession() {
        try {
            return client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            return 0;
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
