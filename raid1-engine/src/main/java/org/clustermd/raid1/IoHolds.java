package org.clustermd.raid1;

import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;
import org.clustermd.raid1.resync.ResyncBarrier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Who holds the array's I/O from outside the data path, md's {@code mddev_suspend} callers:
 * administrative quiesces (they nest; md-cluster's {@code pers->quiesce}) and the cluster
 * session's hold (one at most). It owns the two counts and freezes and unfreezes the
 * {@link ResyncBarrier} for them. They are counted apart, so that an unquiesce never ends the
 * session hold, nor a session release a quiesce; array_state reads "suspended" while either is
 * on, and for good once the array is fenced.
 *
 * <p>Thread-safe: this object's monitor guards both counts.
 */
final class IoHolds {
    private static final Logger log = LoggerFactory.getLogger(IoHolds.class);

    private final String name;
    private final ResyncBarrier barrier;
    private final ArrayStateMachine state;
    private final BooleanSupplier fenced;
    private final Runnable released;
    private final long ioWaitNanos;
    private int quiesces;
    private boolean session;

    /**
     * @param fenced whether the array is fenced (then it shows suspended whatever the counts)
     * @param released told after a hold ended, outside the monitor (writers waiting on a window look again)
     */
    IoHolds(
            String name,
            ResyncBarrier barrier,
            ArrayStateMachine state,
            BooleanSupplier fenced,
            Runnable released,
            long ioWaitNanos) {
        this.name = name;
        this.barrier = barrier;
        this.state = state;
        this.fenced = fenced;
        this.released = released;
        this.ioWaitNanos = ioWaitNanos;
    }

    /** See {@link Mddev#quiesce()}. */
    void quiesce() throws Raid1Exception {
        try {
            barrier.freeze(0, ioWaitNanos);
        } catch (TimeoutException | InterruptedException e) {
            barrier.unfreeze();
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new Raid1Exception(
                    Raid1Exception.Code.TIMEOUT, name + ": I/O did not drain for quiesce: " + e.getMessage(), e);
        }
        synchronized (this) {
            quiesces++;
            showSuspended();
        }
    }

    /** See {@link Mddev#unquiesce()}. */
    void unquiesce() {
        synchronized (this) {
            if (quiesces == 0) {
                log.warn("{}: unquiesce without a quiesce: ignored (it never ends the session hold)", name);
                return;
            }
            quiesces--;
            barrier.unfreeze();
            showSuspended();
        }
        released.run();
    }

    /** See {@link Mddev#drainRange}. */
    void drainRange(long lo, long hi, long boundNanos) throws Raid1Exception {
        if (hi <= lo) return;
        long bound = Math.min(boundNanos, ioWaitNanos);
        try {
            barrier.awaitRangeIdle(lo, hi - lo, bound);
        } catch (TimeoutException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.TIMEOUT,
                    name + ": writes in [" + lo + ", " + hi + ") did not drain for a peer's resync window: "
                            + e.getMessage(),
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Raid1Exception(
                    Raid1Exception.Code.TIMEOUT, name + ": interrupted while draining [" + lo + ", " + hi + ")", e);
        }
    }

    /** See {@link Mddev#holdForSession()}. */
    boolean holdForSession() {
        synchronized (this) {
            if (session) return true;
            session = true;
            barrier.block();
            showSuspended();
        }
        log.warn("{}: I/O held while the cluster session is in doubt", name);
        try {
            barrier.awaitDrained(0, ioWaitNanos);
            return true;
        } catch (TimeoutException e) {
            log.warn(
                    "{}: requests still in flight after the I/O wait ({}); new I/O stays held until the session is back",
                    name,
                    e.getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /**
     * See {@link Mddev#releaseSessionHold()}.
     *
     * @return true when a session hold was on and is now released (the caller asks for the sync
     *     that was interrupted or not started while held); false when none was on
     */
    boolean releaseSessionHold() {
        synchronized (this) {
            if (!session) return false;
            session = false;
            barrier.unfreeze();
            showSuspended();
        }
        released.run();
        return true;
    }

    /** True while I/O is held for the cluster session ({@link #holdForSession}). */
    synchronized boolean sessionHeld() {
        return session;
    }

    /** Under this monitor. */
    private void showSuspended() {
        state.suspended(fenced.getAsBoolean() || quiesces > 0 || session);
    }
}
