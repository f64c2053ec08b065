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
     * array's I/O wait timeout.
     *
     * @throws Raid1Exception TIMEOUT when requests did not drain in time (nothing is held then)
     */
    void quiesce() throws Raid1Exception;

    /**
     * {@code pers->quiesce(mddev, 0)}: lets I/O flow again and wakes writers waiting for
     * {@link ClusterOperations#areaResyncing} to clear.
     */
    void unquiesce();

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
