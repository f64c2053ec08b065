package org.clustermd.cluster;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockValueBlock;

/**
 * md's {@code struct resync_info} as a bitmap lock's value block: the owner's resync window,
 * {@code lo} then {@code hi}, little-endian 64-bit sectors, the rest zero. (0, 0) is no window,
 * and so is a value block that is not valid (its writer died while holding the lock) or too
 * short to hold one (docs/md-cluster-protocol.md §e.3).
 */
record ResyncInfo(long lo, long hi) {
    static final ResyncInfo NONE = new ResyncInfo(0, 0);
    private static final int BYTES = 16;

    ResyncInfo {
        if (lo < 0 || hi < 0) throw new IllegalArgumentException("bad resync window [" + lo + ", " + hi + ")");
    }

    boolean isWindow() {
        return hi > lo;
    }

    /** This window in a value block of {@code size} bytes (the lockspace's LVB size). */
    LockValueBlock toValueBlock(int size) {
        if (size < BYTES)
            throw new IllegalArgumentException("a value block of " + size + " bytes cannot hold a window");
        ByteBuffer b = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(0, lo).putLong(8, hi);
        return LockValueBlock.of(b.array());
    }

    /**
     * Sets (0, 0) as the value {@code held} (a bitmap lock held in PW or EX) writes when it
     * converts down or unlocks. Whoever takes a slot's lock clears the slot's window this way: a
     * dead owner's window is over, and the lock manager would otherwise write the bytes it read
     * back as valid (docs/lessons.md §39).
     */
    static void clearIn(LockResource held) {
        held.setValueBlock(NONE.toValueBlock(held.valueBlock().size()));
    }

    /** The window a value block holds; {@link #NONE} when it holds none or cannot be trusted. */
    static ResyncInfo from(LockValueBlock v) {
        if (v == null || !v.isValid() || v.size() < BYTES) return NONE;
        ByteBuffer b = v.asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        long lo = b.getLong(0);
        long hi = b.getLong(8);
        if (lo < 0 || hi <= lo) return NONE;
        return new ResyncInfo(lo, hi);
    }
}
