package org.clustermd.raid1.admin;

/**
 * Which write-intent bitmap a new array gets (mdadm's {@code --bitmap=}).
 *
 * <p>Immutable; thread-safe.
 */
public enum BitmapMode {
    /** {@code --bitmap=clustered}: one slot per node (version 5), the md-cluster layout. */
    CLUSTERED,
    /** {@code --bitmap=internal}: one slot (version 4), a single-node array. */
    INTERNAL,
    /** {@code --bitmap=none}: no bitmap; every unclean shutdown costs a full resync. */
    NONE
}
