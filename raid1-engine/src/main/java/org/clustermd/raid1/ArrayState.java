package org.clustermd.raid1;

/**
 * md's {@code array_state} (Documentation/admin-guide/md.rst), printed with md's words by
 * {@link #toString()}.
 *
 * <p>Immutable; thread-safe.
 */
public enum ArrayState {
    /** No devices, no array (after close). */
    CLEAR("clear"),
    /** Devices known but the array is not running (before assembly finished). */
    INACTIVE("inactive"),
    /** All I/O is held or refused: the array is quiesced or fenced. */
    SUSPENDED("suspended"),
    /** No writes allowed. */
    READONLY("readonly"),
    /** Read-only until the first write, which switches it to active. */
    READ_AUTO("read-auto"),
    /** No writes pending and the superblock says the array is in sync (resync_offset recorded). */
    CLEAN("clean"),
    /** Writes may be in flight; the superblock says the array may be out of sync. */
    ACTIVE("active"),
    /** A write waits for the superblock to be marked active (clean to active transition). */
    WRITE_PENDING("write-pending"),
    /** Active, but no write for the safemode delay: about to become clean. */
    ACTIVE_IDLE("active-idle");

    private final String md;

    ArrayState(String md) {
        this.md = md;
    }

    /** md's word for the state. */
    @Override
    public String toString() {
        return md;
    }

    /** The state named by md's word. */
    public static ArrayState parse(String word) {
        for (ArrayState s : values()) if (s.md.equals(word.trim())) return s;
        throw new IllegalArgumentException("not an array_state: '" + word + "'");
    }
}
