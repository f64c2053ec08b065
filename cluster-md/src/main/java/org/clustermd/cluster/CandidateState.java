package org.clustermd.cluster;

/**
 * What became of a device a peer announced with NEWDISK on this node (md's {@code Candidate}
 * rdev, docs/md-cluster-protocol.md §f.1). Reported to {@link ClusterListener#deviceCandidate}.
 */
public enum CandidateState {
    /** Not found here, not in time, or already a leg: this node refused the add. */
    NOT_FOUND,
    /** Found here and confirmed; held open, takes no writes until the add is committed. */
    PENDING,
    /** The superblock update that commits the add arrived: the device is a spare here now. */
    CONFIRMED,
    /** The add failed (refused, timed out, or cancelled by the adder): the device is let go. */
    CANCELLED
}
