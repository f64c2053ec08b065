package org.clustermd.raid1;

/**
 * md's {@code sync_action}: what the sync thread does, or what an administrator asks it to do.
 * {@link #toString()} gives md's word.
 *
 * <p>Immutable; thread-safe.
 */
public enum SyncAction {
    /** Nothing runs; written: stop the current pass and let md start what is needed. */
    IDLE("idle"),
    /** Nothing runs and nothing will start until another action is written. */
    FROZEN("frozen"),
    /** Make the in-sync legs identical where they may differ (after an unclean stop). */
    RESYNC("resync"),
    /** Copy data to legs being rebuilt (spares, re-added legs). */
    RECOVER("recover"),
    /** Read every leg and count the sectors that differ (mismatch_cnt); write nothing. */
    CHECK("check"),
    /** As check, and rewrite the legs that differ from the first in-sync leg. */
    REPAIR("repair");

    private final String md;

    SyncAction(String md) {
        this.md = md;
    }

    @Override
    public String toString() {
        return md;
    }

    /**
     * The action named by md's word.
     *
     * @throws IllegalArgumentException for any other word (md's EINVAL; never silently ignored)
     */
    public static SyncAction parse(String word) {
        for (SyncAction a : values()) if (a.md.equals(word.trim())) return a;
        throw new IllegalArgumentException(
                "not a sync_action: '" + word + "' (idle, frozen, resync, recover, check, repair)");
    }
}
