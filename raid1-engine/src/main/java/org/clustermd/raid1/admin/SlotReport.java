package org.clustermd.raid1.admin;

import java.util.UUID;
import org.clustermd.bitmap.BitmapSuperblock;

/**
 * One bitmap slot as {@code mdadm --examine-bitmap} reports it.
 *
 * <p>Immutable; thread-safe.
 *
 * @param slot the node slot
 * @param uuid the slot's bitmap uuid (null when the slot could not be read)
 * @param events the slot's bitmap superblock events
 * @param eventsCleared events_cleared
 * @param state bitmap_super_t.state flags
 * @param chunks bits in the slot ("N bits (chunks)")
 * @param dirty bits set ("M dirty")
 * @param problem why md would not use this slot, or null when it would
 */
public record SlotReport(
        int slot, UUID uuid, long events, long eventsCleared, int state, long chunks, long dirty, String problem) {

    /** mdadm's "State" of a slot ("OK", "Out of date"), or "invalid: why". */
    public String stateText() {
        if (problem != null) return "invalid: " + problem;
        return (state & BitmapSuperblock.STATE_STALE) != 0 ? "Out of date" : "OK";
    }
}
