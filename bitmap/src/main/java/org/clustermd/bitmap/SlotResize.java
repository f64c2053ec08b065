package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_FRESH;
import static org.clustermd.bitmap.ChunkCounters.DIRTY;
import static org.clustermd.bitmap.ChunkCounters.NEEDED;
import static org.clustermd.bitmap.ChunkCounters.RESYNC;
import static org.clustermd.bitmap.ChunkCounters.count;
import static org.clustermd.bitmap.ChunkCounters.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.SuperblockCodec;

/**
 * md's {@code md_bitmap_resize} for our own slot, one use per resize: checks the bitmap is
 * quiet and the new size fits, builds the new counters and image (kept chunks keep their
 * state, new chunks are NEEDED and set), and writes the whole slot.
 *
 * <p>Not thread-safe: used under the bitmap's lock, with the array quiesced by the caller.
 */
final class SlotResize {
    private final WriteIntentBitmap owner;
    private final long newSyncSize;
    private BitmapSuperblock resized;

    SlotResize(WriteIntentBitmap owner, long newSyncSize) {
        this.owner = owner;
        this.newSyncSize = newSyncSize;
    }

    /** The new in-memory slot, not yet on disk. */
    SlotState build(SlotState old, BitmapSuperblock sb) throws BitmapException {
        String where = owner.where();
        for (int c = 0; c < old.counters.chunks(); c++) {
            int v = old.counters.get(c);
            if (count(v) > 0 || (v & RESYNC) != 0) {
                throw new BitmapException(
                        Code.BUSY,
                        where + ": cannot resize with writes or a resync pending" + " (chunk " + c
                                + "); quiesce the array first");
            }
        }
        resized = sb.withSyncSize(newSyncSize);
        SuperblockCodec.validate(resized, where);
        BitmapGeometry g =
                BitmapArea.checkGeometry(resized, owner.area().storage().size(), where);
        if (g.slots() > 1 && g.stride() != old.geometry.stride()) {
            throw new BitmapException(
                    Code.GEOMETRY,
                    where + ": resizing to " + newSyncSize + " sectors changes the"
                            + " slot stride from " + old.geometry.stride() + " to " + g.stride()
                            + " bytes, which moves every"
                            + " node's slot; that needs all slots rewritten while no node uses the array");
        }
        ChunkCounters cc = new ChunkCounters(g.chunks());
        SlotImage img = new SlotImage(g, null);
        int keep = Math.min(old.counters.chunks(), g.chunks());
        for (int c = 0; c < keep; c++) {
            int v = old.counters.get(c);
            if (disk(v) == DIRTY) {
                cc.init(c, v);
                img.setBit(c);
            }
        }
        // grown space needs a resync; its bits go to disk too, so a crash before the resync
        // still finds it (md marks it NEEDED in memory only)
        for (int c = keep; c < g.chunks(); c++) {
            cc.init(c, DIRTY | NEEDED | AGE_FRESH);
            img.setBit(c);
        }
        img.putSuperblock(resized);
        return new SlotState(g, cc, img, g.slotOffset(owner.slot()));
    }

    BitmapSuperblock superblock() {
        return resized;
    }

    /** Bits first, then page 0 with the superblock that states the new size; each flushed. */
    void write(SlotState ns) throws BitmapException {
        BitmapStorage storage = owner.area().storage();
        IoCounters io = owner.io();
        ns.image.markAllDirty();
        ns.image.snapshot(ns.writeBuffer);
        int page = BitmapGeometry.PAGE_SIZE;
        int pages = ns.geometry.pages();
        try {
            if (pages > 1) {
                ByteBuffer rest = ns.writeBuffer
                        .duplicate()
                        .position(page)
                        .limit(pages * page)
                        .slice();
                storage.write(ns.slotOffset + page, rest);
                storage.flush();
                io.writes.incrementAndGet();
                io.flushes.incrementAndGet();
            }
            storage.write(
                    ns.slotOffset,
                    ns.writeBuffer.duplicate().position(0).limit(page).slice());
            storage.flush();
            io.writes.incrementAndGet();
            io.flushes.incrementAndGet();
            io.bytes.addAndGet(ns.geometry.stride());
        } catch (IOException e) {
            throw new BitmapException(
                    Code.STORAGE, owner.where() + ": writing the resized bitmap failed: " + e.getMessage(), e);
        }
    }
}
