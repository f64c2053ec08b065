package org.clustermd.raid1;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Set;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapGeometry;
import org.clustermd.bitmap.BitmapOptions;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code md_bitmap_create} and {@code md_bitmap_load} at assembly: finds the bitmap area
 * the superblock points at, checks slot 0 against the array, and opens this node's slot with
 * the bits the legs' state calls for. The cluster is joined between the two steps, since the
 * slot number comes from the cluster.
 *
 * <p>Not thread-safe: used once, by the thread that assembles the array, before it is shared.
 */
final class BitmapLoad {
    // logged under the array's name as before the split: log configurations name Raid1Array
    private static final Logger log = LoggerFactory.getLogger(Raid1Array.class);

    /** The opened slot, and whether its bits can be trusted (false: a full resync is forced). */
    record Loaded(WriteIntentBitmap bitmap, boolean trusted) {}

    private BitmapLoad() {}

    /**
     * Reads the bitmap area of {@code sb}, null when the array has no bitmap.
     *
     * @throws Raid1Exception METADATA for an unusable bitmap
     */
    static BitmapArea readArea(String name, Superblock sb, Mirrors mirrors) throws Raid1Exception {
        if (!sb.hasFeature(Superblock.FEATURE_BITMAP_OFFSET)) return null;
        long areaStart = (sb.superOffset() + sb.bitmapOffset()) * BlockDevice.SECTOR_SIZE;
        long areaSize = (sb.dataOffset() * BlockDevice.SECTOR_SIZE - areaStart) / 4096 * 4096;
        BitmapArea area;
        try {
            LegBitmapStorage storage = mirrors.openBitmapStorage(areaStart, areaSize);
            Map<String, Set<Integer>> gaps = storage.learnGaps(page -> slotHeader(page, sb));
            if (!gaps.isEmpty()) {
                log.warn(
                        "{}: bitmap slots missing or out of date on legs (admitted while the slot's owner lived, or"
                                + " damaged); read from other legs until copied there: {}",
                        name,
                        gaps);
            }
            area = BitmapArea.read(storage);
        } catch (BitmapException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.METADATA, name + ": the bitmap is unusable: " + e.getMessage(), e);
        }
        BitmapSuperblock first = area.superblock();
        if (!first.uuid().equals(sb.setUuid())) {
            // slot 0 is the one every other slot is checked against: blaming slot 1 would send the operator astray
            throw new Raid1Exception(
                    Raid1Exception.Code.METADATA,
                    name + ": the bitmap is unusable: slot 0's uuid "
                            + SuperblockCodec.mdadmUuid(first.uuid()) + " is not the array's "
                            + SuperblockCodec.mdadmUuid(sb.setUuid())
                            + " (md ignores such a bitmap)");
        }
        if (Long.compareUnsigned(first.syncSize(), sb.dataSize()) > 0) {
            // the other slots' places follow from it: reading them would only report a bad magic
            throw new Raid1Exception(
                    Raid1Exception.Code.METADATA,
                    name + ": the bitmap is unusable: slot 0's sync_size " + first.syncSize()
                            + " sectors is more than the data_size " + sb.dataSize() + " sectors");
        }
        return area;
    }

    /** What a slot header page says; null when it is no bitmap superblock of this array. */
    static LegBitmapStorage.SlotHeader slotHeader(ByteBuffer page, Superblock sb) {
        try {
            BitmapSuperblock h = org.clustermd.bitmap.storage.SuperblockCodec.decode(page, 0, "probe");
            if (!h.uuid().equals(sb.setUuid())) return null;
            return new LegBitmapStorage.SlotHeader(BitmapGeometry.of(h), h.events());
        } catch (BitmapException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Our slot records {@code recorded} sectors and the superblock {@code sectors}: a node died
     * in the middle of a grow, after resizing this slot (its own, or a free one at its step 4)
     * or before its step 4 reached it. The slot is resized to the superblock's size before any
     * request is served: a grow the superblock recorded is finished here (its region NEEDED in
     * this slot, so this node resyncs it), one it did not is rolled back (the bits beyond the
     * end dropped: no node ever served that region). Nothing runs on the array yet.
     */
    private static void followSuperblock(String name, WriteIntentBitmap b, long recorded, long sectors)
            throws BitmapException {
        log.warn(
                "{}: bitmap slot {} records {} sectors, the superblock {}: a grow did not finish (its node died);"
                        + " {} here, the slot resized to the superblock's size",
                name,
                b.slot(),
                recorded,
                sectors,
                sectors > recorded ? "finished" : "rolled back");
        b.resize(sectors);
    }

    private static void closeQuietly(String name, WriteIntentBitmap b) {
        try {
            b.close();
        } catch (BitmapException e) {
            log.warn("{}: closing the bitmap after a failed resize: {}", name, e.getMessage());
        }
    }

    /**
     * Opens {@code slot} of {@code area}; an out-of-date bitmap lowers the checkpoint to 0.
     *
     * @throws Raid1Exception METADATA when the slot cannot be opened
     */
    static Loaded open(
            String name, BitmapArea area, int slot, MirrorSet set, ArrayMetadata metadata, ArrayOptions options)
            throws Raid1Exception {
        boolean trusted = true;
        try {
            // read again: slot 0 may have been resized since the area was read, before our join
            BitmapSuperblock own = BitmapArea.read(area.storage()).examine(slot).superblock();
            // only a grow whose grower died before it finished leaves this (docs/lessons.md §61, §62):
            // under the join's token no grow runs, and the superblock is the truth (docs/lessons.md §65)
            long unfinished = own.clustered() && own.syncSize() != metadata.size() ? own.syncSize() : -1;
            long events = metadata.events();
            // md's bitmap_load: while degraded every set bit is kept NEEDED, so a returning leg can
            // be recovered from them, unless nothing was cleared since the array was last whole
            long load = metadata.recoveryCp();
            if (set.missingRoles() > 0 && own.eventsCleared() != events) load = 0;
            if (!own.clustered() && own.events() < events) {
                log.warn(
                        "{}: bitmap events {} < array events {}: the bitmap is out of date, forcing a full resync",
                        name,
                        own.events(),
                        events);
                trusted = false;
                metadata.recoveryCp(0);
            }
            WriteIntentBitmap b = WriteIntentBitmap.open(
                    area.storage(),
                    slot,
                    BitmapOptions.builder()
                            .name(name)
                            .clock(options.bitmapClock())
                            .startDaemon(options.bitmapDaemon())
                            .lookAheadChunks(options.bitmapLookAhead())
                            .anySyncSize(true) // resized below when it is not the superblock's
                            .recoveryCp(load)
                            .daemonFailureListener(e -> log.warn("{}: bitmap daemon: {}", name, e.toString()))
                            .build());
            b.setDegraded(set.missingRoles() > 0);
            if (unfinished >= 0) {
                try {
                    followSuperblock(name, b, unfinished, metadata.size());
                } catch (BitmapException e) {
                    closeQuietly(name, b);
                    throw e;
                }
            }
            return new Loaded(b, trusted);
        } catch (BitmapException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.METADATA,
                    name + ": opening bitmap slot " + slot + " failed: " + e.getMessage(),
                    e);
        }
    }
}
