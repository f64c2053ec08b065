package org.clustermd.raid1;

/**
 * Why an array stopped itself (ZooKeeper's ExitCode idea): once fenced, an array refuses every
 * new request with {@link Raid1Exception.Code#FENCED} and writes nothing more to its legs, so a
 * node that can no longer prove it may write cannot corrupt what others do.
 *
 * <p>Immutable; thread-safe.
 */
public enum FenceReason {
    /** The cluster session was lost: this node may no longer hold its locks. */
    CLUSTER_SESSION_LOST,
    /** A critical thread ({@code resync-}, {@code md-}, {@code raid1d-}) died of an unexpected failure. */
    CRITICAL_THREAD_FAILED,
    /** The bitmap could not be written on any leg: writes could no longer be covered. */
    BITMAP_FAILED,
    /** Every leg failed. */
    ALL_LEGS_FAILED,
    /** An operator or a test fenced the array. */
    ADMINISTRATIVE,
    /**
     * The write lease stayed invalid for the array's I/O bound while writes were held: this node
     * cannot prove its session, so another node may be recovering its slot.
     */
    LEASE_EXPIRED
}
