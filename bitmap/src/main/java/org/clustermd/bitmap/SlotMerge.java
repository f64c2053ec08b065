package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_FRESH;
import static org.clustermd.bitmap.ChunkCounters.AGE_MASK;
import static org.clustermd.bitmap.ChunkCounters.DIRTY;
import static org.clustermd.bitmap.ChunkCounters.DISK_MASK;
import static org.clustermd.bitmap.ChunkCounters.NEEDED;
import static org.clustermd.bitmap.ChunkCounters.PENDING;
import static org.clustermd.bitmap.ChunkCounters.disk;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.BitmapException.Field;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.SuperblockCodec;

/**
 * md's {@code bitmap_copy_from_slot}, one use per call: reads another node's slot, merges every
 * set bit into ours as a NEEDED chunk, makes our copy durable, and only then (if asked) clears
 * the source. md clears the source first, which leaves a window where a crash loses the dead
 * node's dirty chunks; here every such chunk is in at least one slot at every moment.
 *
 * <p>Not thread-safe: one instance per call; takes the owner's lock for the merge.
 */
final class SlotMerge {
    private final WriteIntentBitmap owner;
    private final int other;
    private final String from;

    SlotMerge(WriteIntentBitmap owner, int other) {
        this.owner = owner;
        this.other = other;
        this.from = owner.area().where(other);
    }

    SlotCopy copy(boolean clearSource) throws BitmapException {
        BitmapArea area = owner.area();
        area.checkSlot(other);
        ByteBuffer src = area.readSlot(other);
        BitmapSuperblock sb = SuperblockCodec.decode(src, 0, from);
        long found = 0;
        long firstDirty = -1;
        long lastDirty = -1;
        BitmapGeometry g;
        long ourEvents;
        owner.lock().lock();
        try {
            if (owner.isClosed()) throw owner.closedException();
            checkSameArray(sb, owner.superblockLocked());
            ourEvents = owner.superblockLocked().events();
            SlotState s = owner.state();
            g = s.geometry;
            for (int c = 0; c < g.chunks(); c++) {
                if (!BitmapArea.testBit(src, c)) continue;
                found++;
                if (firstDirty < 0) firstDirty = c;
                lastDirty = c;
                markNeeded(s, c);
            }
            if (found > 0) {
                owner.awaitDurable("merging " + found + " bits of slot " + other);
                for (int c = (int) firstDirty; c <= lastDirty; c++) {
                    if (BitmapArea.testBit(src, c) && disk(s.counters.get(c)) != DIRTY) {
                        throw new BitmapException(
                                Code.STORAGE,
                                owner.where() + ": merged bit of chunk " + c + " is not durable; slot " + other
                                        + " left untouched",
                                owner.commit().lastFailure());
                    }
                }
            }
        } finally {
            owner.lock().unlock();
        }
        boolean cleared = clearSource && found > 0;
        if (cleared) clearSource(src, sb, g, firstDirty, lastDirty, Math.max(ourEvents, owner.events()));
        SectorRange range =
                found > 0 ? new SectorRange(g.chunkStart(firstDirty), g.chunkEnd(lastDirty)) : SectorRange.EMPTY;
        return new SlotCopy(other, found > 0, found, firstDirty, lastDirty, range, cleared);
    }

    /** Under the lock: chunk c must be resynced; its bit is set (or stays set) in our slot. */
    private void markNeeded(SlotState s, int c) {
        ChunkCounters cc = s.counters;
        for (; ; ) {
            int v = cc.get(c);
            int d = disk(v);
            if (d == DIRTY || d == PENDING) {
                if (cc.cas(c, v, v | NEEDED)) return;
                continue;
            }
            int u = (v & ~(DISK_MASK | AGE_MASK)) | PENDING | NEEDED | AGE_FRESH;
            if (cc.cas(c, v, u)) {
                s.image.setBit(c);
                owner.commit().registerSet(c);
                return;
            }
        }
    }

    /** Our copy is durable: clear the source's bits and record our events in its superblock. */
    private void clearSource(
            ByteBuffer src, BitmapSuperblock sb, BitmapGeometry g, long firstDirty, long lastDirty, long events)
            throws BitmapException {
        for (long c = firstDirty; c <= lastDirty; c++) {
            int i = (int) BitmapGeometry.bitByte(c);
            src.put(i, (byte) (src.get(i) & ~(1 << BitmapGeometry.bitInByte(c))));
        }
        SuperblockCodec.encode(sb.withEvents(Math.max(sb.events(), events), sb.eventsCleared()), src, 0);
        BitmapStorage storage = owner.area().storage();
        IoCounters io = owner.io();
        try {
            storage.write(g.slotOffset(other), src.clear());
            io.writes.incrementAndGet();
            io.bytes.addAndGet(g.stride());
            storage.flush();
            io.flushes.incrementAndGet();
        } catch (IOException e) {
            throw new BitmapException(
                    Code.STORAGE,
                    from + ": clearing the copied bits failed (they are also in " + owner.where()
                            + ", so nothing is lost): " + e.getMessage(),
                    e);
        }
    }

    /** Another slot's superblock must describe our array at our size. */
    private void checkSameArray(BitmapSuperblock theirs, BitmapSuperblock ours) throws BitmapException {
        if (!theirs.uuid().equals(ours.uuid())) {
            throw BitmapException.format(
                    Field.UUID, from + ": uuid " + theirs.uuid() + " is not our array's " + ours.uuid());
        }
        if (theirs.chunkSize() != ours.chunkSize()) {
            throw BitmapException.format(
                    Field.CHUNKSIZE,
                    from + ": chunksize " + theirs.chunkSize() + " differs from ours (" + ours.chunkSize() + ")");
        }
        if (theirs.syncSize() != ours.syncSize()) {
            throw BitmapException.format(
                    Field.SYNC_SIZE,
                    from + ": sync_size " + theirs.syncSize() + " differs from ours (" + ours.syncSize()
                            + "); resize every slot first");
        }
    }
}
