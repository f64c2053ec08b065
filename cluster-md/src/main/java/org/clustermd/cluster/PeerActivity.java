package org.clustermd.cluster;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether another node does foreground I/O on the array, so that a sync pass here keeps to
 * sync_speed_min while it does (docs/md-cluster-protocol.md §e.9, figure P13). md's idle check
 * counts the sectors of the member disks, which on shared storage are this host's only: md-cluster
 * resyncs at full speed under a peer's writes.
 *
 * <p>The signal is the {@code foreground} lock. Each node holds it in CR while it started a
 * foreground request in the last {@link #QUIET}, in NL otherwise; a ticker thread samples the
 * array's request count every {@link #TICK} and converts only when that changes, so the data path
 * never makes a lock-manager call and a steady writer costs none. A node whose sync thread asks
 * converts its own lock to EX with NOQUEUE: refused means some other node holds CR; granted, it
 * converts straight back to the mode it had. At most one probe per {@link #PROBE_EVERY}: two lock
 * writes, and only while a pass runs. A probe that fails for another reason (a session suspended)
 * keeps the last answer; the signal is advice, never a fence, so a stale one only slows a pass
 * or lets it run. A peer whose writes all wait in this node's window starts none and so turns
 * quiet: the pass then runs at full speed, which is what frees them.
 *
 * <p>Thread-safety: the lock's conversions (the ticker's and the probe's) are serialised on
 * {@code conversions}, because a lock has at most one pending request; the answer is volatile.
 */
final class PeerActivity implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(PeerActivity.class);

    /** The resource name. */
    static final String RESOURCE = "foreground";
    /** How often the ticker samples the request count. */
    static final Duration TICK = Duration.ofMillis(100);
    /** A node is busy until this long after its last foreground request. */
    static final Duration QUIET = Duration.ofSeconds(2);
    /** The shortest time between two probes of the sync thread. */
    static final Duration PROBE_EVERY = Duration.ofMillis(250);
    /** The bound of the ticker's CR request, which may queue behind a probe's EX for a moment. */
    private static final Duration SIGNAL_WAIT = Duration.ofSeconds(1);

    private final String arrayName;
    private final LockResource lock;
    private final LongSupplier foregroundRequests;
    private final Object conversions = new Object();
    private final Thread ticker;
    private volatile boolean closed;
    private volatile boolean peersBusy;
    /** When the last probe ran ({@link System#nanoTime()}); guarded by {@code conversions}. */
    private long lastProbe = System.nanoTime() - PROBE_EVERY.toNanos();

    private PeerActivity(String arrayName, LockResource lock, LongSupplier foregroundRequests) {
        this.arrayName = arrayName;
        this.lock = lock;
        this.foregroundRequests = foregroundRequests;
        this.ticker = new Thread(this::tick, "foreground-" + arrayName);
        ticker.setDaemon(true);
    }

    /** At join: the lock taken in NL (so a probe needs no new request) and the ticker started. */
    static PeerActivity start(String arrayName, LockResource lock, LongSupplier foregroundRequests)
            throws DlmException {
        lock.convert(LockMode.NL);
        PeerActivity a = new PeerActivity(arrayName, lock, foregroundRequests);
        a.ticker.start();
        return a;
    }

    /** See {@link ClusterCoordinator#peersBusy()}. */
    boolean peersBusy() {
        synchronized (conversions) {
            long now = System.nanoTime();
            if (closed || now - lastProbe < PROBE_EVERY.toNanos()) return peersBusy;
            lastProbe = now;
            LockMode own = lock.grantedMode().orElse(LockMode.NL);
            try {
                lock.tryConvert(LockMode.EX);
                set(false);
                lock.convert(own); // a down-conversion: granted at once
            } catch (DlmException e) {
                if (e.code() == DlmException.Code.NOT_GRANTED) set(true);
                else log.debug("{}: probing for a peer's I/O: {}", arrayName, e.getMessage());
            }
            return peersBusy;
        }
    }

    private void set(boolean busy) {
        if (busy != peersBusy) {
            log.info(
                    "{}: {}",
                    arrayName,
                    busy
                            ? "a peer is doing I/O: a sync pass here keeps to sync_speed_min"
                            : "no peer is doing I/O: a sync pass here may run at full speed");
        }
        peersBusy = busy;
    }

    private void tick() {
        long seen = foregroundRequests.getAsLong();
        long lastActive = System.nanoTime() - QUIET.toNanos();
        String lastError = null;
        while (!closed) {
            try {
                TimeUnit.NANOSECONDS.sleep(TICK.toNanos());
            } catch (InterruptedException e) {
                return; // close
            }
            long now = System.nanoTime();
            long started = foregroundRequests.getAsLong();
            if (started != seen) {
                seen = started;
                lastActive = now;
            }
            LockMode want = now - lastActive < QUIET.toNanos() ? LockMode.CR : LockMode.NL;
            try {
                synchronized (conversions) {
                    if (closed || lock.grantedMode().orElse(null) == want) continue;
                    lock.convert(want, SIGNAL_WAIT);
                }
                lastError = null;
            } catch (DlmException e) {
                if (e.code() == DlmException.Code.CLOSED || e.code() == DlmException.Code.LOCKSPACE_LOST) return;
                // a session suspended or a probe's EX held too long: the next tick tries again
                if (!e.getMessage().equals(lastError)) {
                    log.debug("{}: signalling this node's I/O ({}): {}", arrayName, want, e.getMessage());
                }
                lastError = e.getMessage();
            }
        }
    }

    /** Stops the ticker; the lock itself goes with the lockspace. */
    @Override
    public void close() {
        closed = true;
        ticker.interrupt();
        try {
            ticker.join(TimeUnit.SECONDS.toMillis(2));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
