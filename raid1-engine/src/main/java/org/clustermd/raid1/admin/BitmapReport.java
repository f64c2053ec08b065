package org.clustermd.raid1.admin;

import java.util.List;
import java.util.UUID;

/**
 * The bitmap area of a leg: slot 0's superblock fields and every slot's summary.
 *
 * <p>Immutable; thread-safe.
 *
 * @param version 4 (internal) or 5 (clustered)
 * @param uuid the bitmap's uuid (the array's set_uuid when valid)
 * @param chunksize bytes per bit
 * @param syncSize sectors covered
 * @param daemonSleep seconds
 * @param writeBehind md's write_behind
 * @param sectorsReserved sectors reserved for the area
 * @param nodes node slots (0 when unclustered)
 * @param clusterName cluster_name
 * @param slots every slot that could be examined, in order (none when slot 0 is unusable)
 * @param problem why md would ignore this bitmap, or null when it would use it
 */
public record BitmapReport(
        int version,
        UUID uuid,
        long chunksize,
        long syncSize,
        long daemonSleep,
        long writeBehind,
        long sectorsReserved,
        int nodes,
        String clusterName,
        List<SlotReport> slots,
        String problem) {
    public BitmapReport {
        slots = List.copyOf(slots);
    }
}
