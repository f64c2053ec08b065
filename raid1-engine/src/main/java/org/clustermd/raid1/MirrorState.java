package org.clustermd.raid1;

/**
 * The health of one leg in the array (md's rdev flags In_sync/Faulty and its raid_disk, as one
 * state). Lives on {@link Mirror}; the array changes it only by publishing a new
 * {@link MirrorSet}.
 *
 * <pre>
 *   SPARE --(activated for a missing role)--> REBUILDING --(recovery done)--> IN_SYNC
 *     ^                                           |                            |
 *     +---------------(re-add)-------- FAULTY <----+----(I/O error, fail)------+
 * </pre>
 *
 * <p>Immutable; thread-safe.
 */
public enum MirrorState {
    /** Holds a role and all of its data: written by every write, may serve every read. */
    IN_SYNC,
    /**
     * Holds a role and is being recovered: written by every write, serves reads only below its
     * {@linkplain Mirror#recoveryOffset() recovery offset}, never read for bitmap pages.
     */
    REBUILDING,
    /** Failed: neither written nor read until it is re-added or removed. */
    FAULTY,
    /** No role: waits to be activated when a role has no in-sync leg. */
    SPARE;

    /** True for the states that receive data writes (md: raid_disk >= 0 and not Faulty). */
    public boolean takesWrites() {
        return this == IN_SYNC || this == REBUILDING;
    }
}
