package org.clustermd.dlm;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * A lockspace (the kernel's {@code dlm_lockspace_t}): a namespace of lock resources shared by a
 * set of members, each holding a stable slot. md-cluster creates one per array, named by the
 * array UUID.
 *
 * <p>Joining makes this node a member with a slot below {@link #slotCount()}; membership changes
 * are reported to the {@link LockSpaceListener} given at join. {@link #close()} leaves
 * gracefully: this node's locks are released and the other members see a departure (recovery
 * callbacks without {@code memberLost}).
 *
 * <p>Thread-safe.
 */
public interface LockSpace extends AutoCloseable {

    /** The lockspace name. */
    String name();

    /** This node's slot. */
    NodeSlot slot();

    /** How many slots the lockspace has (md-cluster: the bitmap's {@code nodes}). */
    int slotCount();

    /** The slots of the live members as this node last saw them, including its own. */
    Set<NodeSlot> members();

    /** This member's own identity: its slot and the incarnation of this join. */
    MemberId self();

    /**
     * The live member in {@code slot} as this node last saw it, with its incarnation; empty when
     * the slot is free. Recovery compares the incarnation with the one it was asked to recover, so
     * a new member that took the slot since is never mistaken for the one that left or died.
     */
    Optional<MemberId> memberIn(NodeSlot slot);

    /** The session health; see {@link LockSpaceState}. */
    LockSpaceState state();

    /**
     * The end of this member's lease, as a {@link System#nanoTime()} value: before it, the lock
     * manager cannot have expired this member's session, so the locks it holds are still its own
     * and another member cannot have been granted them. A holder's belief in its locks ends at
     * this deadline or at {@link LockSpaceState#SUSPENDED}, whichever comes first, never at
     * {@link LockSpaceState#LOST}; SUSPENDED is reported no later than the deadline. The deadline
     * moves forward while the lock manager keeps answering this member, and is already past once
     * the lockspace is LOST or CLOSED. Compare with {@code System.nanoTime() - deadline < 0}.
     * Never blocks and makes no lock-manager call, so the data path may read it before every
     * write. How the deadline is derived is the implementation's (ZooKeeper: the package
     * documentation of {@code org.clustermd.dlm.zk}, "The lease").
     */
    long leaseDeadlineNanos();

    /** True while {@link LockSpaceState#ACTIVE} and before {@link #leaseDeadlineNanos()}. */
    default boolean leaseValid() {
        return state() == LockSpaceState.ACTIVE && System.nanoTime() - leaseDeadlineNanos() < 0;
    }

    /**
     * Waits until {@link #leaseValid()}, woken by the lockspace (never by polling).
     *
     * @return true when the lease is valid; false when the wait timed out or the lockspace is
     *     {@link LockSpaceState#LOST} or {@link LockSpaceState#CLOSED} (it never will be again)
     */
    boolean awaitLease(Duration timeout) throws InterruptedException;

    /**
     * A new lock handle on the named resource; no lock is held until the first
     * {@link LockResource#convert}. Resource names are 1 to 128 characters of
     * {@code [A-Za-z0-9._-]}.
     */
    LockResource resource(String name) throws DlmException;

    /** As {@link #resource(String)}, with a blocking callback (bast) for this lock. */
    LockResource resource(String name, BlockingListener blockingListener) throws DlmException;

    /**
     * Converts several locks of this lockspace, each on another resource, in one write: every
     * conversion takes effect or none does, so the caller saves a round trip per lock. Each is
     * granted as {@link LockResource#convert} would grant it (down-conversions at once, the same
     * FIFO and "now" rules, the value block written or read the same way); one that
     * {@link Conversion#mayQueue} waits in the queue and is granted later. Waits until every
     * conversion is granted, at most {@code timeout}.
     *
     * <p>When a conversion that may not queue cannot be granted at once, nothing is written and
     * NOT_GRANTED is thrown. That answer is taken on this member's view without the sync
     * {@link LockResource#tryConvert} does, so it may be stale: it suits a caller that then
     * converts the locks one at a time, in its own order. On a timeout or an interrupt every
     * conversion still waiting is cancelled (keeping its granted mode) and TIMEOUT or INTERRUPTED
     * thrown; those already granted stay granted. Other failures are those of
     * {@link LockResource#convert}, and the locks' {@link LockResource#grantedMode()} tells what
     * each one holds.
     *
     * <p>NOT_GRANTED and INVALID_REQUEST mean nothing was written. Any other failure may come
     * after the write committed: {@link DlmException.Code#SUSPENDED} in particular both when the
     * request was refused before writing (the lease had lapsed) and when a conversion the write
     * granted reached the caller only after the lockspace was suspended (its completion is
     * refused, the lock held all the same if the same session resumes). A conversion still
     * waiting then is cancelled, but that cancel may be written only once the lockspace is ACTIVE
     * again, and may lose to the grant. A caller that must know what it holds waits for the
     * lease ({@link #awaitLease}), then for each lock to have no request pending
     * ({@link LockResource#awaitNoRequest}), and reads each lock's
     * {@link LockResource#grantedMode()}.
     *
     * @param conversions at least one, each of a lock of this lockspace with no request pending,
     *     no two on the same resource
     * @return the grants, in the order of {@code conversions}
     */
    List<LockGrant> convertJointly(List<Conversion> conversions, Duration timeout) throws DlmException;

    /**
     * Leaves the lockspace: releases every lock of this node (without writing LVBs, like the
     * DLM's force-unlock), fails pending requests with {@code CLOSED}, and removes the membership.
     */
    @Override
    void close() throws DlmException;
}
