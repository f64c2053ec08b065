package org.clustermd.raid1;

import java.util.Optional;
import java.util.UUID;
import org.clustermd.bitmap.WriteIntentBitmap;

/**
 * The array as {@link ClusterOperations} sees it: md's {@code struct mddev} and the handful of
 * md functions md-cluster calls back into ({@code md_reload_sb}, {@code mddev->pers->quiesce},
 * {@code md_wakeup_thread}, ...). {@link Raid1Array} implements it and hands it to
 * {@link ClusterOperations#join}.
 *
 * <p>Every callback takes only short engine locks that are never held across a cluster call or
 * I/O, so a cluster receive thread can call them while another local thread waits for a cluster
 * lock. Callbacks that do I/O say so and are bounded.
 *
 * <p>Thread-safe: callable from any thread once {@link ClusterOperations#join} was called.
 */
public interface Mddev {

    /** The array name (md's {@code md0}). */
    String name();

    /** set_uuid: the lockspace is named after it. */
    UUID uuid();

    /** The bitmap's cluster_name ("" without a clustered bitmap). */
    String clusterName();

    /** The superblock's events as this node knows them. */
    long events();

    /** md's {@code recovery_cp}: sectors known in sync ({@code Long.MAX_VALUE} when clean). */
    long recoveryCp();

    /** This node's bitmap; empty for an array without one, or before it is loaded. */
    Optional<WriteIntentBitmap> bitmap();

    /**
     * {@code pers->quiesce(mddev, 1)}: holds new I/O and waits until no request of this node is
     * in flight (held requests that wait for a superblock update do not count). Bounded by the
     * array's I/O wait timeout. Quiesces nest; each is ended by one {@link #unquiesce}.
     *
     * @throws Raid1Exception TIMEOUT when requests did not drain in time (nothing is held then)
     */
    void quiesce() throws Raid1Exception;

    /**
     * {@code pers->quiesce(mddev, 0)}: ends one {@link #quiesce} (never the session hold) and
     * wakes writers waiting for {@link ClusterOperations#areaResyncing} to clear. Without a
     * quiesce to end it is logged and ignored.
     */
    void unquiesce();

    /**
     * The session hold (docs/lessons.md §31): the lock manager's session is in doubt, so another
     * node may get this node's bitmap lock at any moment. Holds all new I/O at once (the array
     * reads SUSPENDED), then waits, bounded by the array's I/O wait, for the requests in flight.
     * Unlike {@link #quiesce} it keeps holding when they do not drain in time: the hold ends only
     * with {@link #releaseSessionHold}. Counted apart from quiesce, so neither ends the other.
     * Idempotent while held.
     *
     * @return true when the requests in flight drained; false when the wait ran out (still held)
     */
    boolean holdForSession();

    /** Ends the session hold (the same session is back, or the array is fenced). Idempotent. */
    void releaseSessionHold();

    /** Wakes writers waiting for {@link ClusterOperations#areaResyncing}: the window moved. */
    void suspendedRangeChanged();

    /**
     * md's {@code md_reload_sb}: re-reads the superblock of device {@code devNumber} (a peer
     * wrote it) and applies what changed: device roles (faulty legs are failed here too, spares
     * activated), recovery offsets, resync offset, and the events counter. Reads one superblock.
     */
    void reloadSuperblock(int devNumber) throws Raid1Exception;

    /** Sets md's MD_RECOVERY_NEEDED and wakes the md thread: maybe a sync should start. */
    void requestRecovery();

    /** {@code recovery_cp = min(recovery_cp, sector)}: merged bits need a resync from there. */
    void lowerRecoveryCp(long sector);

    /** A peer removed device {@code devNumber} (REMOVE): drop it once it has no role. */
    void clusterRemove(int devNumber);

    /** A peer re-added device {@code devNumber} (RE_ADD): this node writes to it again. */
    void clusterReAdd(int devNumber);

    /** Stops all I/O for good: new requests fail with FENCED (see {@link FenceReason}). */
    void fence(FenceReason reason, Throwable cause);
}
