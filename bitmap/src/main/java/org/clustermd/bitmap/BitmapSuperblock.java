package org.clustermd.bitmap;

import java.util.Objects;
import java.util.UUID;

/**
 * md's {@code bitmap_super_t}: the 256-byte header of every bitmap slot, as values. Byte
 * offsets and validation live in {@link org.clustermd.bitmap.storage.SuperblockCodec}.
 *
 * <p>Units are md's: {@code syncSize} in 512-byte sectors, {@code chunkSize} in bytes,
 * {@code daemonSleep} in seconds, {@code sectorsReserved} in sectors. Unsigned 32-bit fields
 * are held in {@code long}s so that every value md can store is representable.
 *
 * <p>The UUID maps to the 16 on-disk bytes in order: byte {@code i} of the field is byte
 * {@code i} of the UUID's big-endian 128-bit value, so {@link UUID#toString()} shows the bytes
 * as they sit on disk (md copies the array's {@code set_uuid} bytes there).
 *
 * <p>Immutable and thread-safe. Constructing one does not validate it; the codec does, on
 * encode and on decode.
 *
 * @param version         4 ({@link #VERSION_HI}) or 5 ({@link #VERSION_CLUSTERED})
 * @param uuid            the array UUID
 * @param events          the array's events counter when this slot's superblock was last written
 * @param eventsCleared   the array events when bits were last allowed to be cleared
 * @param syncSize        sectors covered by the bitmap (md's {@code resync_max_sectors})
 * @param state           {@code bitmap_super_t.state} flags ({@link #STATE_STALE}, ...)
 * @param chunkSize       bytes per bit, a power of two {@code >= 512}
 * @param daemonSleep     seconds between bitmap daemon passes
 * @param writeBehind     md's write-behind limit (0 for clustered arrays)
 * @param sectorsReserved sectors reserved for the bitmap area (0 = unknown, as mdadm writes)
 * @param nodes           number of node slots (0 for an unclustered version-4 bitmap)
 * @param clusterName     the cluster name (at most 63 bytes; empty when unclustered)
 */
public record BitmapSuperblock(
        int version,
        UUID uuid,
        long events,
        long eventsCleared,
        long syncSize,
        int state,
        long chunkSize,
        long daemonSleep,
        long writeBehind,
        long sectorsReserved,
        int nodes,
        String clusterName) {

    /** {@code BITMAP_MAGIC}: the bytes {@code "bitm"} read as a little-endian u32. */
    public static final int MAGIC = 0x6d746962;
    /** {@code BITMAP_MAJOR_HI}: little-endian bitmap, one slot. */
    public static final int VERSION_HI = 4;
    /** {@code BITMAP_MAJOR_CLUSTERED}: one slot per node. */
    public static final int VERSION_CLUSTERED = 5;
    /** {@code sizeof(bitmap_super_t)}; the bits start right after it. */
    public static final int SIZE = 256;
    /** {@code state} flag written by old mdadm: bitmap in use. */
    public static final int STATE_ACTIVE = 0x1;
    /** {@code state} flag {@code BITMAP_STALE}: out of date, every chunk needs a resync. */
    public static final int STATE_STALE = 0x2;
    /** {@code state} flag {@code BITMAP_WRITE_ERROR}: md masks it out when writing. */
    public static final int STATE_WRITE_ERROR = 0x4;
    /** md's {@code COUNTER_MAX}, the largest valid {@code write_behind}. */
    public static final long MAX_WRITE_BEHIND = 16383;
    /** Size of the {@code cluster_name} field; the name holds at most one byte less. */
    public static final int CLUSTER_NAME_BYTES = 64;
    /** md's default {@code daemon_sleep}, seconds. */
    public static final long DEFAULT_DAEMON_SLEEP = 5;

    public BitmapSuperblock {
        Objects.requireNonNull(uuid, "uuid");
        Objects.requireNonNull(clusterName, "clusterName");
    }

    /**
     * A fresh clustered (version 5) superblock with md's defaults: events 0, daemon_sleep 5 s,
     * no write-behind, state 0.
     */
    public static BitmapSuperblock clustered(UUID uuid, long syncSize, long chunkSize, int nodes, String clusterName) {
        return new BitmapSuperblock(
                VERSION_CLUSTERED, uuid, 0, 0, syncSize, 0, chunkSize, DEFAULT_DAEMON_SLEEP, 0, 0, nodes, clusterName);
    }

    /** A fresh unclustered (version 4, one slot) superblock with md's defaults. */
    public static BitmapSuperblock unclustered(UUID uuid, long syncSize, long chunkSize) {
        return new BitmapSuperblock(VERSION_HI, uuid, 0, 0, syncSize, 0, chunkSize, DEFAULT_DAEMON_SLEEP, 0, 0, 0, "");
    }

    /** True for the clustered major version. */
    public boolean clustered() {
        return version == VERSION_CLUSTERED;
    }

    /** How many slots the area holds: {@code nodes} when clustered, else 1. */
    public int slots() {
        return clustered() ? nodes : 1;
    }

    public boolean stale() {
        return (state & STATE_STALE) != 0;
    }

    public BitmapSuperblock withEvents(long newEvents, long newEventsCleared) {
        return new BitmapSuperblock(
                version,
                uuid,
                newEvents,
                newEventsCleared,
                syncSize,
                state,
                chunkSize,
                daemonSleep,
                writeBehind,
                sectorsReserved,
                nodes,
                clusterName);
    }

    public BitmapSuperblock withSyncSize(long newSyncSize) {
        return new BitmapSuperblock(
                version,
                uuid,
                events,
                eventsCleared,
                newSyncSize,
                state,
                chunkSize,
                daemonSleep,
                writeBehind,
                sectorsReserved,
                nodes,
                clusterName);
    }

    public BitmapSuperblock withState(int newState) {
        return new BitmapSuperblock(
                version,
                uuid,
                events,
                eventsCleared,
                syncSize,
                newState,
                chunkSize,
                daemonSleep,
                writeBehind,
                sectorsReserved,
                nodes,
                clusterName);
    }

    public BitmapSuperblock withDaemonSleep(long seconds) {
        return new BitmapSuperblock(
                version,
                uuid,
                events,
                eventsCleared,
                syncSize,
                state,
                chunkSize,
                seconds,
                writeBehind,
                sectorsReserved,
                nodes,
                clusterName);
    }

    public BitmapSuperblock withSectorsReserved(long sectors) {
        return new BitmapSuperblock(
                version,
                uuid,
                events,
                eventsCleared,
                syncSize,
                state,
                chunkSize,
                daemonSleep,
                writeBehind,
                sectors,
                nodes,
                clusterName);
    }
}
