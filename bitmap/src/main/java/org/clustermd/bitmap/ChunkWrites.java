package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_MASK;
import static org.clustermd.bitmap.ChunkCounters.AHEAD;
import static org.clustermd.bitmap.ChunkCounters.COUNT_MASK;
import static org.clustermd.bitmap.ChunkCounters.DIRTY;
import static org.clustermd.bitmap.ChunkCounters.DISK_MASK;
import static org.clustermd.bitmap.ChunkCounters.NOT_COUNTED;
import static org.clustermd.bitmap.ChunkCounters.PENDING;
import static org.clustermd.bitmap.ChunkCounters.count;
import static org.clustermd.bitmap.ChunkCounters.disk;

import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.bitmap.BitmapException.Code;

/**
 * The data path's side of one {@link WriteIntentBitmap} (md's {@code md_bitmap_startwrite}
 * and the counting half of {@code md_bitmap_endwrite}): counts writes on the chunks they touch
 * and, when a chunk's bit is not durable, sets it and waits for the group commit that writes
 * it, so that no leg is written before its chunk's bit is on disk (docs/lessons.md §27). Owns
 * no state of its own: the counters, the image and the round belong to the bitmap.
 *
 * <p>Thread-safety: as the bitmap's. The fast path is one compare-and-set per chunk and takes no
 * lock, because a chunk already DIRTY needs no I/O; setting a bit takes the bitmap's lock,
 * which guards the image and the group commit, and rechecks there that the bitmap is neither
 * closed, fenced nor resized, since a fenced bitmap must write nothing.
 *
 * <p>Sequential streams: after counting, {@link StreamAhead} may set the bits of the next
 * chunks too, in the round the writer waits for (docs/lessons.md §55).
 */
final class ChunkWrites {
    private final WriteIntentBitmap owner;
    private final ReentrantLock lock;
    private final GroupCommit commit;
    private final StreamAhead ahead;
    private final String where;

    ChunkWrites(WriteIntentBitmap owner, ReentrantLock lock, GroupCommit commit, StreamAhead ahead, String where) {
        this.owner = owner;
        this.lock = lock;
        this.commit = commit;
        this.ahead = ahead;
        this.where = where;
    }

    /** See {@link WriteIntentBitmap#startWrite(long, long)}. */
    void start(long sector, long sectors) throws BitmapException {
        if (owner.isClosed()) throw owner.closedException();
        SlotState s = owner.state();
        int first = firstChunk(s.geometry, sector, sectors);
        int last = s.geometry.chunkOf(sector + sectors - 1);
        ChunkCounters cc = s.counters;
        int c = first;
        while (c <= last && cc.tryStartWrite(c) != NOT_COUNTED) c++;
        if (c <= last) startSlow(s, first, c, last);
    }

    /** See {@link WriteIntentBitmap#tryStartWrite(long, long)}. */
    boolean tryStart(long sector, long sectors) throws BitmapException {
        if (owner.isClosed()) throw owner.closedException();
        SlotState s = owner.state();
        int first = firstChunk(s.geometry, sector, sectors);
        int last = s.geometry.chunkOf(sector + sectors - 1);
        ChunkCounters cc = s.counters;
        int c = first;
        while (c <= last && cc.tryStartWrite(c) != NOT_COUNTED) c++;
        if (c > last) return true;
        // the chunks counted so far are given back as writes that ended well: their bits stay set
        for (int u = first; u < c; u++) cc.endWrite(u, false);
        return false;
    }

    /**
     * The counting half of {@link WriteIntentBitmap#endWrite(long, long, boolean)}: with
     * {@code needed} the chunks are marked NEEDED and keep their bits. Does no I/O.
     */
    void end(long sector, long sectors, boolean needed) {
        SlotState s = owner.state();
        int first = firstChunk(s.geometry, sector, sectors);
        int last = s.geometry.chunkOf(sector + sectors - 1);
        for (int c = first; c <= last; c++) s.counters.endWrite(c, needed);
    }

    private void startSlow(SlotState s, int first, int from, int last) throws BitmapException {
        lock.lock();
        try {
            if (owner.isClosed() || s != owner.state()) {
                undo(s, first, from - 1);
                throw owner.isClosed()
                        ? owner.closedException()
                        : new BitmapException(Code.BUSY, where + ": bitmap resized during startWrite");
            }
            long round = 0;
            for (int c = from; c <= last; c++) round = Math.max(round, countWrite(s, c));
            // bits set ahead ride in the round we wait for when it is the next one; else in the
            // round of the writer that reaches them first
            ahead.extend(s, last);
            if (round == 0) return;
            commit.await(round);
            for (int c = from; c <= last; c++) {
                if (disk(s.counters.get(c)) != DIRTY) {
                    undo(s, first, last);
                    throw new BitmapException(
                            Code.STORAGE,
                            where + ": the bit of chunk " + c
                                    + " could not be made durable; the write must not be issued",
                            commit.lastFailure());
                }
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Under the lock: counts one write on chunk c; returns the round that makes its bit durable,
     * or 0 if it is already.
     */
    private long countWrite(SlotState s, int c) {
        ChunkCounters cc = s.counters;
        for (; ; ) {
            int v = cc.get(c);
            if (count(v) == COUNT_MASK) throw ChunkCounters.overflow(c);
            int d = disk(v);
            if (d == DIRTY || d == PENDING) {
                if (cc.cas(c, v, (v + 1) & ~AHEAD)) return d == PENDING ? commit.roundCarrying(c) : 0;
                continue;
            }
            // CLEAN, or CLEARING whose clear is not on disk yet: the bit must be set again
            int u = ((v + 1) & ~(DISK_MASK | AGE_MASK | AHEAD)) | PENDING;
            if (cc.cas(c, v, u)) {
                s.image.setBit(c);
                commit.registerSet(c);
                return commit.nextRound();
            }
        }
    }

    private static void undo(SlotState s, int from, int to) {
        for (int c = from; c <= to; c++) s.counters.undoStart(c);
    }

    private static int firstChunk(BitmapGeometry g, long sector, long sectors) {
        if (sector < 0 || sectors < 1 || sector > g.syncSize() - sectors) {
            throw new IllegalArgumentException("write of " + sectors + " sectors at " + sector
                    + " is not inside the bitmap's " + g.syncSize() + " sectors");
        }
        return g.chunkOf(sector);
    }
}
