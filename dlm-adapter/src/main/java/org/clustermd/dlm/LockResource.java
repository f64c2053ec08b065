package org.clustermd.dlm;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * This node's lock on one named resource of a {@link LockSpace} (the kernel's
 * {@code dlm_lock_resource} as md-cluster wraps it): one lock that is requested once and then
 * converted up and down in place.
 *
 * <p><b>Requests.</b> The first {@link #convert} queues a new request; later ones convert the
 * granted lock. At most one request is pending at a time; a second one fails with
 * {@link DlmException.Code#INVALID_REQUEST}. Grants are FIFO, and queued conversions are granted
 * before new requests. A conversion compatible with every other granted mode is granted at once;
 * a down-conversion ({@link LockMode#isDownConversionTo}) never waits. {@link #tryConvert} is the
 * DLM's NOQUEUE: granted at once or {@link DlmException.Code#NOT_GRANTED}. Two conversions that
 * wait for each other's granted modes (two PR holders both converting to EX) are a conversion
 * deadlock: the later one fails with {@link DlmException.Code#CONVERSION_DEADLOCK} and keeps its
 * granted mode.
 *
 * <p><b>Value block.</b> A grant reads the resource's LVB into {@link #valueBlock()}; a PW/EX
 * holder sets what it wants to publish with {@link #setValueBlock} and it is written to the
 * resource when the lock converts down (PW to PW included) or is unlocked.
 *
 * <p><b>Costs.</b> An uncontended request, conversion or unlock is one ZooKeeper write; a waiter
 * is woken by the lock manager's notification, never by polling.
 *
 * <p>Thread-safe: any thread may call any method; callbacks and completions arrive on the
 * lockspace's callback thread.
 */
public interface LockResource extends AutoCloseable {

    /** The resource name (md-cluster: token, message, ack, no-new-dev, resync, bitmapNNNN). */
    String name();

    /** The mode granted to this lock, or empty when no lock is held. */
    Optional<LockMode> grantedMode();

    /** The mode of the pending request, or empty when none is pending. */
    Optional<LockMode> requestedMode();

    /** The LVB as this lock sees it: read at the last grant, or set by {@link #setValueBlock}. */
    LockValueBlock valueBlock();

    /**
     * Sets the value this lock publishes on its next down-conversion or unlock from PW or EX.
     * Its size must be the lockspace's LVB size.
     */
    void setValueBlock(LockValueBlock value);

    /** The fencing token of the current PW/EX grant, or 0 when not holding PW/EX. */
    long fencingToken();

    /**
     * Requests {@code mode}: a new request when no lock is held, otherwise a conversion. The
     * future completes with the grant, or exceptionally with a {@link DlmException}
     * ({@code CANCELLED}, {@code CONVERSION_DEADLOCK}, {@code LOCKSPACE_LOST}, {@code CLOSED},
     * {@code INVALID_REQUEST}). The future never times out by itself: bound the wait with
     * {@link #convert(LockMode, Duration)} or {@link #cancel()}.
     */
    CompletableFuture<LockGrant> convertAsync(LockMode mode);

    /**
     * Requests {@code mode} and waits at most {@code timeout}. On timeout the request is
     * cancelled and {@link DlmException.Code#TIMEOUT} thrown; if the grant won the race with the
     * cancel, the grant is returned instead. An interrupt ends the wait the same way: the request
     * is cancelled and {@link DlmException.Code#INTERRUPTED} thrown, or the grant returned if it
     * came first, with the thread's interrupt status kept. So an interrupted thread still
     * releases what it holds (a down-conversion is granted at once), and no request it gave up
     * on is granted behind its back.
     */
    LockGrant convert(LockMode mode, Duration timeout) throws DlmException;

    /** {@link #convert(LockMode, Duration)} with the lockspace's default request timeout. */
    LockGrant convert(LockMode mode) throws DlmException;

    /**
     * NOQUEUE: grants {@code mode} only if it can be granted at once, else throws
     * {@link DlmException.Code#NOT_GRANTED} and leaves the lock as it was. It never waits for
     * another holder, so an interrupt does not cut it short: it returns or throws its outcome,
     * with the thread's interrupt status kept, and {@link #grantedMode()} tells that outcome once
     * it returned. The same holds for {@link #cancel()} and {@link #unlock()}.
     */
    LockGrant tryConvert(LockMode mode) throws DlmException;

    /**
     * Cancels the pending request. Returns true if it was cancelled (its future fails with
     * {@code CANCELLED}; a conversion keeps its granted mode); false if nothing was pending or the
     * grant came first. Waits at most the lockspace's default request timeout.
     */
    boolean cancel() throws DlmException;

    /**
     * Waits until no request of this lock is pending (each one granted, cancelled or failed) and
     * {@link #grantedMode()} and {@link #requestedMode()} tell the outcome of every request made
     * before the call. Starts nothing. A request can outlive the call that made it: a
     * conversion whose wait ended while the lockspace was {@link LockSpaceState#SUSPENDED} is
     * cancelled, but the cancel is written only once the lockspace is ACTIVE again, and may lose
     * to the grant; a caller that must know what it holds after a failed request (a joint request
     * that ended SUSPENDED after its write committed, {@link LockSpace#convertJointly}) waits for
     * the lease ({@link LockSpace#awaitLease}), then for this, then reads {@link #grantedMode()}.
     * A lockspace that is LOST or CLOSED has no pending request. Never call it from a lock
     * manager callback: the outcomes it waits for are delivered on the callback thread.
     *
     * @return true when no request is pending; false when {@code timeout} ran out first
     */
    boolean awaitNoRequest(Duration timeout) throws InterruptedException;

    /**
     * Releases the lock (writing the LVB when held in PW/EX). A pending request is cancelled
     * first. Does nothing when no lock is held.
     */
    void unlock() throws DlmException;

    /** Unlocks, logging instead of throwing (try-with-resources). */
    @Override
    void close();
}
