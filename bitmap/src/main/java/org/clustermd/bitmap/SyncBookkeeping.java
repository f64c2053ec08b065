package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.NEEDED;
import static org.clustermd.bitmap.ChunkCounters.RESYNC;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The resync side of one {@link WriteIntentBitmap} (md's {@code md_bitmap_start_sync,
 * end_sync, close_sync, cond_end_sync, sync_with_cluster}): which chunks need a resync, which
 * are being resynced, and when a long resync lets the bits below it decay. Owns the time of the
 * last {@code cond_end_sync}; the chunks' NEEDED and RESYNC flags live in the bitmap's
 * {@link ChunkCounters}.
 *
 * <p>Thread-safety: as the bitmap's. The chunk transitions are compare-and-set on the counters,
 * so most methods take no lock; {@link #condEndSync} takes the bitmap's lock, which guards the
 * time of the last call, so that the period holds between concurrent callers.
 */
final class SyncBookkeeping {
    /** md's start_sync reports on at least a page worth of sectors. */
    private static final long MIN_SYNC_SECTORS = BitmapGeometry.PAGE_SIZE / SectorRange.SECTOR_SIZE;

    private final WriteIntentBitmap owner;
    private final ReentrantLock lock;
    private final BitmapClock clock;
    private final long daemonSleepNanos;
    /** Guarded by lock. */
    private long lastEndSync;

    SyncBookkeeping(WriteIntentBitmap owner, ReentrantLock lock, BitmapClock clock, long daemonSleepNanos, long now) {
        this.owner = owner;
        this.lock = lock;
        this.clock = clock;
        this.daemonSleepNanos = daemonSleepNanos;
        this.lastEndSync = now;
    }

    /** See {@link WriteIntentBitmap#startSync}. */
    SyncChunk startSync(long sector, boolean degraded) {
        SlotState s = owner.state();
        BitmapGeometry g = s.geometry;
        checkSector(g, sector);
        ChunkCounters cc = s.counters;
        long covered = 0;
        boolean needs = false;
        long x = sector;
        do {
            int c = g.chunkOf(x);
            needs |= cc.startSync(c, degraded);
            long next = g.chunkEnd(c);
            covered += next - x;
            x = next;
        } while (covered < MIN_SYNC_SECTORS && x < g.syncSize());
        return new SyncChunk(sector, covered, needs);
    }

    /** See {@link WriteIntentBitmap#endSync}. */
    long endSync(long sector, boolean aborted) {
        SlotState s = owner.state();
        BitmapGeometry g = s.geometry;
        checkSector(g, sector);
        int c = g.chunkOf(sector);
        s.counters.endSync(c, aborted);
        return g.chunkEnd(c) - sector;
    }

    /** See {@link WriteIntentBitmap#closeSync}. */
    void closeSync() {
        ChunkCounters cc = owner.state().counters;
        for (int c = 0; c < cc.chunks(); c++) cc.endSync(c, false);
    }

    /** See {@link WriteIntentBitmap#condEndSync}. */
    boolean condEndSync(long sector, boolean force) {
        lock.lock();
        try {
            long now = clock.nanoTime();
            if (sector == 0) {
                lastEndSync = now;
                return false;
            }
            if (!force && now - lastEndSync < daemonSleepNanos) return false;
            SlotState s = owner.state();
            long below = Math.min(sector, s.geometry.syncSize()) >>> s.geometry.chunkShift();
            for (int c = 0; c < below; c++) s.counters.endSync(c, false);
            lastEndSync = now;
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** See {@link WriteIntentBitmap#syncWithCluster}. */
    void syncWithCluster(SectorRange previous, SectorRange current) {
        long size = owner.state().geometry.syncSize();
        for (long x = previous.start(); x < Math.min(current.start(), size); ) x += endSync(x, false);
        for (long x = previous.end(); x < Math.min(current.end(), size); )
            x += startSync(x, false).sectors();
    }

    /** See {@link WriteIntentBitmap#nextNeeded}. */
    long nextNeeded(long sector) {
        SlotState s = owner.state();
        checkSector(s.geometry, sector);
        int c = s.counters.nextFlagged(s.geometry.chunkOf(sector));
        return c < 0 ? -1 : s.geometry.chunkStart(c);
    }

    /** See {@link WriteIntentBitmap#neededRanges}. */
    List<SectorRange> neededRanges() {
        SlotState s = owner.state();
        List<SectorRange> out = new ArrayList<>();
        long start = -1;
        for (int c = 0; c < s.counters.chunks(); c++) {
            boolean n = (s.counters.get(c) & (NEEDED | RESYNC)) != 0;
            if (n && start < 0) start = s.geometry.chunkStart(c);
            if (!n && start >= 0) {
                out.add(new SectorRange(start, s.geometry.chunkStart(c)));
                start = -1;
            }
        }
        if (start >= 0) out.add(new SectorRange(start, s.geometry.syncSize()));
        return out;
    }

    private static void checkSector(BitmapGeometry g, long sector) {
        if (sector < 0 || sector >= g.syncSize()) {
            throw new IllegalArgumentException(
                    "sector " + sector + " is outside the bitmap's " + g.syncSize() + " sectors");
        }
    }
}
