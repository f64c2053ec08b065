package org.clustermd.dlm;

/**
 * The six DLM lock modes, weakest first, and the rules that depend only on modes: the
 * compatibility matrix and what happens to the lock value block on a conversion.
 *
 * <p>Compatibility (the VMS/Linux DLM matrix): NL with all; CR with all but EX; CW with NL, CR,
 * CW; PR with NL, CR, PR; PW with NL, CR; EX with NL only. The matrix is symmetric.
 *
 * <p>Immutable and thread-safe.
 */
public enum LockMode {
    /** Null: a handle on the resource; compatible with everything, protects nothing. */
    NL,
    /** Concurrent read: others may write (e.g. md reads a live node's bitmap LVB with CR). */
    CR,
    /** Concurrent write: others may read or write concurrently, but not PR/PW/EX. */
    CW,
    /** Protected read: shared read; no writers. Self-compatible, so it makes safe barriers. */
    PR,
    /** Protected write: one writer, concurrent readers (CR) allowed. */
    PW,
    /** Exclusive. */
    EX;

    // rows and columns in declaration order: NL CR CW PR PW EX
    private static final boolean[][] COMPATIBLE = {
        {true, true, true, true, true, true},
        {true, true, true, true, true, false},
        {true, true, true, false, false, false},
        {true, true, false, true, false, false},
        {true, true, false, false, false, false},
        {true, false, false, false, false, false},
    };

    /** True if a lock in this mode may be granted while another lock holds {@code other}. */
    public boolean isCompatibleWith(LockMode other) {
        return COMPATIBLE[ordinal()][other.ordinal()];
    }

    /** True for PW and EX: the modes whose holder writes the lock value block. */
    public boolean isWriteMode() {
        return this == PW || this == EX;
    }

    /**
     * True if converting from this mode to {@code target} can never wait: every mode that is
     * compatible with this one is also compatible with {@code target} (EX to anything, PW to
     * NL/CR/PW, PR to NL/CR/PR, ...). Such conversions are granted at once.
     */
    public boolean isDownConversionTo(LockMode target) {
        for (LockMode m : values()) {
            if (isCompatibleWith(m) && !target.isCompatibleWith(m)) {
                return false;
            }
        }
        return true;
    }

    /**
     * What a grant of {@code target} to a lock currently granted {@code from} does with the lock
     * value block, as the Linux DLM defines it (fs/dlm dlm_lvb_operations): a lock granted PW or
     * EX writes its LVB into the resource when it converts to any mode except PW to EX (so PW to
     * PW republishes); every other grant reads the resource's LVB into the lock, except a
     * conversion down to a weaker mode from CR, CW or PR, which leaves it alone.
     *
     * @param from the mode held before, or {@code null} for a new request
     */
    public static ValueBlockTransfer transferOnGrant(LockMode from, LockMode target) {
        if (from == null) {
            return ValueBlockTransfer.READ;
        }
        if (from == EX || (from == PW && target != EX)) {
            return ValueBlockTransfer.WRITE;
        }
        return target.ordinal() >= from.ordinal() ? ValueBlockTransfer.READ : ValueBlockTransfer.NONE;
    }

    /** Releasing a lock granted in this mode writes its LVB to the resource iff PW or EX. */
    public ValueBlockTransfer transferOnUnlock() {
        return isWriteMode() ? ValueBlockTransfer.WRITE : ValueBlockTransfer.NONE;
    }

    /** What happens to the lock value block when a request is granted or a lock released. */
    public enum ValueBlockTransfer {
        /** The resource's LVB is copied to the lock (the holder sees the latest value). */
        READ,
        /** The lock's LVB is copied to the resource (the holder publishes its value). */
        WRITE,
        /** Nothing moves. */
        NONE
    }
}
