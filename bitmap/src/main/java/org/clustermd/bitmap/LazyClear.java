package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_MASK;
import static org.clustermd.bitmap.ChunkCounters.AGE_ONE;
import static org.clustermd.bitmap.ChunkCounters.AHEAD;
import static org.clustermd.bitmap.ChunkCounters.CLEARING;
import static org.clustermd.bitmap.ChunkCounters.COUNT_MASK;
import static org.clustermd.bitmap.ChunkCounters.DIRTY;
import static org.clustermd.bitmap.ChunkCounters.DISK_MASK;
import static org.clustermd.bitmap.ChunkCounters.NEEDED;
import static org.clustermd.bitmap.ChunkCounters.RESYNC;
import static org.clustermd.bitmap.ChunkCounters.age;
import static org.clustermd.bitmap.ChunkCounters.disk;

/**
 * The clearing half of one pass of md's bitmap daemon ({@code md_bitmap_daemon_work}): ages
 * the idle chunks of a slot and, once a chunk has been idle for three passes (or at once on a
 * clean close), moves it to CLEARING, clears its bit in the slot's image and registers it for
 * the next group-commit round. Only a DIRTY chunk with no write pending, not NEEDED and not
 * RESYNC is touched; a chunk set ahead of a stream and never written ages and clears like any
 * other (its AHEAD flag goes with the bit). Owns no state; the caller runs the round that writes the clears.
 *
 * <p>Thread-safety: called with the bitmap's lock held, which guards the image and the group
 * commit. Writers count on the fast path without that lock, so every counter change here is a
 * compare-and-set that loses to a write that started meanwhile.
 */
final class LazyClear {
    private LazyClear() {}

    /**
     * Under the lock: ages or clears every idle chunk of {@code s}; with {@code now}, every idle
     * chunk is cleared at once (close). Returns how many bits were cleared in the image.
     */
    static int clearIdle(SlotState s, GroupCommit commit, boolean now) {
        ChunkCounters cc = s.counters;
        int clears = 0;
        for (int c = 0; c < cc.chunks(); c++) {
            int v = cc.get(c);
            if ((v & (COUNT_MASK | NEEDED | RESYNC)) != 0 || disk(v) != DIRTY) continue;
            if (!now && age(v) > 1) {
                cc.cas(c, v, v - AGE_ONE); // a failed CAS means a write started: skip it this pass
                continue;
            }
            if (cc.cas(c, v, (v & ~(DISK_MASK | AGE_MASK | AHEAD)) | CLEARING)) {
                s.image.clearBit(c);
                commit.registerClear(c);
                clears++;
            }
        }
        return clears;
    }
}
