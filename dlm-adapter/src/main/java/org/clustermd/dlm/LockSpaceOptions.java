package org.clustermd.dlm;

import java.time.Duration;
import java.util.Objects;

/**
 * How to join a lockspace.
 *
 * @param slotCount how many members may join (md-cluster: the bitmap's {@code nodes}); a node
 *     that finds every slot taken fails with {@link DlmException.Code#SLOTS_EXHAUSTED}
 * @param valueBlockSize the LVB size in bytes (64, as md-cluster uses, unless you need more)
 * @param requestTimeout the bound of every blocking call that takes no explicit timeout (md's
 *     WAIT_DLM_LOCK_TIMEOUT is 30 s)
 * @param listener membership, recovery and session callbacks
 */
public record LockSpaceOptions(int slotCount, int valueBlockSize, Duration requestTimeout, LockSpaceListener listener) {

    public LockSpaceOptions {
        if (slotCount < 1 || slotCount > NodeSlot.MAX_SLOTS) {
            throw new IllegalArgumentException("slot count " + slotCount + " not in [1, " + NodeSlot.MAX_SLOTS + "]");
        }
        if (valueBlockSize < 1 || valueBlockSize > 1024) {
            throw new IllegalArgumentException("LVB size " + valueBlockSize + " not in [1, 1024]");
        }
        Objects.requireNonNull(requestTimeout, "requestTimeout");
        if (requestTimeout.isNegative() || requestTimeout.isZero()) {
            throw new IllegalArgumentException("request timeout must be positive");
        }
        Objects.requireNonNull(listener, "listener");
    }

    /** {@code slotCount} slots, 64-byte LVBs, 30 s request timeout, no listener. */
    public static LockSpaceOptions of(int slotCount) {
        return new LockSpaceOptions(
                slotCount, LockValueBlock.DEFAULT_SIZE, Duration.ofSeconds(30), new LockSpaceListener() {});
    }

    public LockSpaceOptions withListener(LockSpaceListener l) {
        return new LockSpaceOptions(slotCount, valueBlockSize, requestTimeout, l);
    }

    public LockSpaceOptions withRequestTimeout(Duration t) {
        return new LockSpaceOptions(slotCount, valueBlockSize, t, listener);
    }

    public LockSpaceOptions withValueBlockSize(int size) {
        return new LockSpaceOptions(slotCount, size, requestTimeout, listener);
    }
}
