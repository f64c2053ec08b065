package org.clustermd.bitmap;

import static org.clustermd.bitmap.ChunkCounters.AGE_FRESH;
import static org.clustermd.bitmap.ChunkCounters.DIRTY;
import static org.clustermd.bitmap.ChunkCounters.NEEDED;
import static org.clustermd.bitmap.ChunkCounters.RESYNC;
import static org.clustermd.bitmap.ChunkCounters.count;
import static org.clustermd.bitmap.ChunkCounters.disk;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's write-intent bitmap: its own slot of a (clustered) md bitmap area, with md's
 * in-memory counters ({@code md_bitmap_startwrite/endwrite/start_sync/end_sync/...}).
 *
 * <p>The data path calls {@link #startWrite} before writing any leg and {@link #endWrite}
 * after the last leg answered. {@code startWrite} returns only when the bits covering the range
 * are durable; when they already are it does no I/O and takes no lock (one compare-and-set per
 * chunk). Concurrent writers that need new bits share one storage write and flush
 * (group commit). Bits are cleared lazily, 2 to 3 {@code daemon_sleep} periods after the last
 * write on their chunk ended, by the {@code bitmap-flush-<name>} daemon (or by whoever calls
 * {@link #daemonWork()}); never while a write on the chunk is pending, never while the chunk
 * needs a resync, never while the array is degraded.
 *
 * <p>Units are md's: sectors of 512 bytes, chunks of {@code chunksize} bytes, events as the
 * array's superblock counts them.
 *
 * <p>This class owns the slot's superblock, events, lifecycle and the lock they share; the
 * counting of writes is {@link ChunkWrites}, the resync bookkeeping {@link SyncBookkeeping},
 * the daemon's clearing {@link LazyClear}, copies from other slots {@link SlotMerge}.
 *
 * <p>Thread-safety: all methods may be called from any thread. {@link #resize} requires the
 * caller to have quiesced the array (no other call on this bitmap meanwhile), as md does.
 */
public final class WriteIntentBitmap implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(WriteIntentBitmap.class);

    private final BitmapArea area;
    private final BitmapStorage storage;
    private final int slot;
    private final String where;
    private final BitmapClock clock;
    private final long daemonSleepNanos;
    private final ReentrantLock lock = new ReentrantLock();
    private final IoCounters io = new IoCounters();
    private final GroupCommit commit;
    private final BitmapDaemon daemon;
    private final ChunkWrites writes;
    private final SyncBookkeeping sync;

    private volatile SlotState state;
    private volatile boolean degraded;
    private volatile long events;
    private volatile long eventsCleared;
    /** events_cleared moved on: the superblock must be written before bits are cleared. */
    private volatile boolean needSync;
    /** OPEN until {@link #close()} or {@link #fence()}; only the first of those two sticks. */
    private final AtomicReference<Lifecycle> lifecycle = new AtomicReference<>(Lifecycle.OPEN);
    /** Written under the lock, read by the daemon without it. */
    private volatile long nextPassAt;
    /** Guarded by lock. */
    private BitmapSuperblock superblock;

    private WriteIntentBitmap(
            BitmapArea area, int slot, BitmapSuperblock sb, ByteBuffer slotBytes, BitmapOptions options) {
        this.area = area;
        this.storage = area.storage();
        this.slot = slot;
        this.where = area.where(slot);
        this.clock = options.clock();
        this.daemonSleepNanos = TimeUnit.SECONDS.toNanos(sb.daemonSleep());
        // md never writes WRITE_ERROR back (bitmap_update_sb masks it)
        this.superblock = sb.withState(sb.state() & ~BitmapSuperblock.STATE_WRITE_ERROR);
        this.events = sb.events();
        this.eventsCleared = sb.eventsCleared();
        BitmapGeometry g = BitmapGeometry.of(sb);
        this.state = new SlotState(g, new ChunkCounters(g.chunks()), new SlotImage(g, slotBytes), g.slotOffset(slot));
        this.commit = new GroupCommit(lock, storage, where, io, state);
        this.daemon =
                options.startDaemon() ? new BitmapDaemon(options.name(), this, options.daemonFailureListener()) : null;
        StreamAhead ahead = new StreamAhead(this, commit, options.lookAheadChunks());
        this.writes = new ChunkWrites(this, lock, commit, ahead, where);
        long now = clock.nanoTime();
        this.nextPassAt = now + daemonSleepNanos;
        this.sync = new SyncBookkeeping(this, lock, clock, daemonSleepNanos, now);
    }

    /**
     * Opens slot {@code slot} of the bitmap area on {@code storage} for this node's writes. Bits
     * found set become dirty chunks (NEEDED from {@link BitmapOptions#recoveryCp()} on); a
     * STALE bitmap marks every chunk NEEDED and is rewritten all-ones before STALE is cleared.
     *
     * @throws BitmapException FORMAT if slot 0 or this slot is not a valid md bitmap of the
     *     same array, GEOMETRY if the area does not fit the storage, SLOT_RANGE if the slot
     *     does not exist, STORAGE on I/O failure
     */
    public static WriteIntentBitmap open(BitmapStorage storage, int slot, BitmapOptions options)
            throws BitmapException {
        BitmapArea area = BitmapArea.read(storage);
        area.checkSlot(slot);
        ByteBuffer bytes = area.readSlot(slot);
        BitmapSuperblock sb = SuperblockCodec.decode(bytes, 0, area.where(slot));
        if (options.anySyncSize() && sb.clustered()) area.checkMatchesButSize(sb, slot);
        else area.checkMatches(sb, slot);
        WriteIntentBitmap bitmap = new WriteIntentBitmap(area, slot, sb, bytes, options);
        bitmap.load(options.recoveryCp());
        if (bitmap.daemon != null) bitmap.daemon.start();
        return bitmap;
    }

    private void load(long recoveryCp) throws BitmapException {
        SlotState s = state;
        BitmapGeometry g = s.geometry;
        boolean stale = superblock.stale();
        for (int c = 0; c < g.chunks(); c++) {
            if (stale || s.image.testBit(c)) {
                boolean needed = stale || g.chunkStart(c + 1L) >= recoveryCp;
                s.counters.init(c, DIRTY | AGE_FRESH | (needed ? NEEDED : 0));
                if (stale) s.image.setBit(c);
            }
        }
        if (!stale) return;
        log.warn("{}: bitmap is STALE (out of date): every chunk needs a resync", where);
        lock.lock();
        try {
            // all bits durable first, then the superblock that no longer says STALE
            awaitDurable("setting every bit of a stale bitmap");
            superblock = superblock.withState(superblock.state() & ~BitmapSuperblock.STATE_STALE);
            s.image.putSuperblock(superblock);
            awaitDurable("clearing STALE");
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ the data path

    /**
     * Declares a write of {@code sectors} sectors at {@code sector}; returns once every chunk it
     * touches has its bit durable on storage. Only then may the caller write a leg (docs/lessons.md §27).
     * Every successful call must be matched by one {@link #endWrite} of the same range.
     *
     * @throws BitmapException STORAGE if the bits could not be made durable (nothing is counted
     *     then and the write must not be issued), CLOSED after {@link #close()}
     * @throws IllegalArgumentException if the range is empty or outside {@code [0, sync_size)}
     */
    public void startWrite(long sector, long sectors) throws BitmapException {
        writes.start(sector, sectors);
    }

    /**
     * {@link #startWrite(long, long)} for a caller that must not block: true, with the write
     * counted, when every chunk the range touches already has its bit durable (no I/O, no lock);
     * false, with nothing counted, when a new bit would have to be flushed first. Match a true
     * with one {@link #endWrite}.
     *
     * @throws BitmapException CLOSED after {@link #close()}
     * @throws IllegalArgumentException if the range is empty or outside {@code [0, sync_size)}
     */
    public boolean tryStartWrite(long sector, long sectors) throws BitmapException {
        return writes.tryStart(sector, sectors);
    }

    /** {@link #startWrite(long, long)} for a range. */
    public void startWrite(SectorRange range) throws BitmapException {
        startWrite(range.start(), range.sectors());
    }

    /**
     * Ends a write started with {@link #startWrite}. With {@code allLegsSucceeded} false (a leg
     * failed or was missing) the chunks are marked NEEDED and keep their bits until a resync
     * covers them (docs/lessons.md §28); the same happens to every write while the array is
     * {@linkplain #setDegraded degraded} (docs/lessons.md §30). Does no I/O.
     *
     * @throws IllegalStateException if a chunk has no write pending (a counter would underflow)
     */
    public void endWrite(long sector, long sectors, boolean allLegsSucceeded) {
        boolean ok = allLegsSucceeded && !degraded;
        writes.end(sector, sectors, !ok);
        if (ok && eventsCleared < events) noteEventsCleared();
    }

    /** {@link #endWrite(long, long, boolean)} for a range. */
    public void endWrite(SectorRange range, boolean allLegsSucceeded) {
        endWrite(range.start(), range.sectors(), allLegsSucceeded);
    }

    private void noteEventsCleared() {
        lock.lock();
        try {
            long e = events;
            if (eventsCleared < e) {
                // md_bitmap_endwrite: bits may be cleared from these events on; the superblock
                // saying so must reach disk before the first such clear
                eventsCleared = e;
                needSync = true;
            }
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ lazy clearing

    /**
     * One pass of md's bitmap daemon, if one is due on the clock (every {@code daemon_sleep}):
     * writes the superblock if {@code events_cleared} moved, ages idle chunks, and clears on
     * disk the bits of chunks idle for three passes. Returns whether a pass ran. The
     * {@code bitmap-flush-<name>} thread calls this; tests with a manual clock call it directly.
     *
     * @throws BitmapException STORAGE if a write failed (the bits stay set), CLOSED
     */
    public boolean daemonWork() throws BitmapException {
        lock.lock();
        try {
            if (isClosed()) throw closedException();
            long now = clock.nanoTime();
            if (now - nextPassAt < 0) return false;
            nextPassAt = now + daemonSleepNanos;
            pass(false);
            return true;
        } finally {
            lock.unlock();
        }
    }

    /** Nanoseconds until the next daemon pass is due (negative when overdue). */
    long nanosUntilNextPass() {
        return nextPassAt - clock.nanoTime();
    }

    /** Under the lock. With {@code now}, every idle chunk is cleared at once (close). */
    private void pass(boolean now) throws BitmapException {
        SlotState s = state;
        if (needSync) {
            needSync = false;
            superblock = superblock.withEvents(events, eventsCleared);
            s.image.putSuperblock(superblock);
            long r = commit.nextRound();
            commit.await(r);
            if (commit.failed(r)) {
                needSync = true;
                throw new BitmapException(
                        Code.STORAGE,
                        where + ": writing events_cleared failed; no bit is cleared",
                        commit.lastFailure());
            }
        }
        if (degraded) return;
        int clears = LazyClear.clearIdle(s, commit, now);
        if (clears > 0 || s.image.hasDirtyPages()) {
            long r = commit.nextRound();
            commit.await(r);
            if (commit.failed(r)) {
                throw new BitmapException(
                        Code.STORAGE,
                        where + ": clearing " + clears + " bits failed; they stay set until the next pass",
                        commit.lastFailure());
            }
        }
    }

    /** Makes every change of our slot durable now (md's {@code bitmap_unplug}). */
    public void flush() throws BitmapException {
        lock.lock();
        try {
            if (isClosed()) throw closedException();
            if (!commit.idle()) awaitDurable("flushing the bitmap");
        } finally {
            lock.unlock();
        }
    }

    /** Under the lock: runs a round for everything changed so far; throws if it failed. */
    void awaitDurable(String what) throws BitmapException {
        long r = commit.nextRound();
        commit.await(r);
        if (commit.failed(r)) {
            throw new BitmapException(Code.STORAGE, where + ": " + what + " failed", commit.lastFailure());
        }
    }

    // ------------------------------------------------------------------ array state

    /**
     * Tells the bitmap whether the array is degraded. While it is, every ended write marks its
     * chunks NEEDED and no bit is cleared (docs/lessons.md §30).
     */
    public void setDegraded(boolean value) {
        this.degraded = value;
    }

    public boolean degraded() {
        return degraded;
    }

    /**
     * md's {@code bitmap_update_sb}, called whenever the array superblock is written: records
     * the array's {@code events} in our slot's superblock and makes it durable. If events went
     * backwards, {@code events_cleared} follows them.
     */
    public void updateSuperblock(long arrayEvents) throws BitmapException {
        if (arrayEvents < 0) throw new IllegalArgumentException("negative events " + arrayEvents);
        lock.lock();
        try {
            if (isClosed()) throw closedException();
            events = arrayEvents;
            if (arrayEvents < eventsCleared) eventsCleared = arrayEvents;
            needSync = false;
            superblock = superblock.withEvents(events, eventsCleared);
            state.image.putSuperblock(superblock);
            awaitDurable("writing the bitmap superblock");
        } finally {
            lock.unlock();
        }
    }

    /** The array events last given to {@link #updateSuperblock} (or read at open). */
    public long events() {
        return events;
    }

    /** md's {@code events_cleared}: the array events from which bits may have been cleared. */
    public long eventsCleared() {
        return eventsCleared;
    }

    // ------------------------------------------------------------------ resync

    /**
     * md's {@code md_bitmap_start_sync}: whether the sectors from {@code sector} need a resync,
     * and how many sectors the answer covers (to the end of the chunk; several chunks when
     * chunks are smaller than 4 KiB). A NEEDED chunk becomes RESYNC unless {@code degraded}.
     */
    public SyncChunk startSync(long sector, boolean degraded) {
        return sync.startSync(sector, degraded);
    }

    /**
     * md's {@code md_bitmap_end_sync} for the chunk holding {@code sector}: ends its resync. An
     * aborted resync makes the chunk NEEDED again; a completed one lets its bit decay.
     *
     * @return sectors from {@code sector} to the end of the chunk
     */
    public long endSync(long sector, boolean aborted) {
        return sync.endSync(sector, aborted);
    }

    /**
     * md's {@code md_bitmap_close_sync}: the sync pass is over; every chunk still marked RESYNC
     * was synced (aborted chunks were already ended with {@code aborted}).
     */
    public void closeSync() {
        sync.closeSync();
    }

    /**
     * md's {@code md_bitmap_cond_end_sync}: at most once per {@code daemon_sleep} (or always
     * with {@code force}), ends the resync of every chunk wholly below {@code sector}, so their
     * bits start to decay during a long resync. The caller guarantees that no resync I/O below
     * {@code sector} is still in flight. {@code sector == 0} just restarts the period.
     *
     * @return whether chunks were ended
     */
    public boolean condEndSync(long sector, boolean force) {
        return sync.condEndSync(sector, force);
    }

    /**
     * md's {@code md_bitmap_sync_with_cluster}, for a RESYNCING message from the node that
     * resyncs: the chunks between the old and the new window start were synced remotely (their
     * resync ends here), the chunks between the old and the new window end are being synced
     * remotely (they start here, so this node does not redo them).
     */
    public void syncWithCluster(SectorRange previous, SectorRange current) {
        sync.syncWithCluster(previous, current);
    }

    /** The first sector of the first chunk at or after {@code sector}'s that is NEEDED or RESYNC, or -1. */
    public long nextNeeded(long sector) {
        return sync.nextNeeded(sector);
    }

    /** The NEEDED or RESYNC chunks as coalesced sector ranges, in order. */
    public List<SectorRange> neededRanges() {
        return sync.neededRanges();
    }

    /** Chunks that are NEEDED or RESYNC. */
    public long neededChunks() {
        return state.counters.countFlagged();
    }

    /** Chunks whose bit is set in memory (what {@code mdadm -X} will count once flushed). */
    public long dirtyChunks() {
        return state.counters.countBitSet();
    }

    /** A snapshot of chunk {@code chunk}'s counter. */
    public ChunkInfo chunk(int chunk) {
        ChunkCounters cc = state.counters;
        if (chunk < 0 || chunk >= cc.chunks()) throw new IllegalArgumentException("no chunk " + chunk);
        int v = cc.get(chunk);
        return new ChunkInfo(
                chunk, count(v), (v & NEEDED) != 0, (v & RESYNC) != 0, ChunkCounters.bitSet(v), disk(v) == DIRTY);
    }

    // ------------------------------------------------------------------ other slots

    /**
     * md's {@code bitmap_copy_from_slot}: merges another node's on-disk bits into ours, for
     * node recovery ({@code clearSource} true, the caller holds that slot's bitmap lock) and for
     * join / re-add ({@code clearSource} false). Every set bit becomes a NEEDED chunk here and
     * is made durable in our slot <em>before</em> the source is cleared, so a crash at any point
     * leaves the bit in at least one slot (md clears the source first).
     *
     * @throws BitmapException SLOT_RANGE for our own slot or a slot that does not exist, FORMAT
     *     if the slot is not a valid bitmap of the same array and size, STORAGE on I/O failure
     *     (the source is then left untouched)
     */
    public SlotCopy copyFromSlot(int other, boolean clearSource) throws BitmapException {
        if (isClosed()) throw closedException();
        if (other == slot) {
            throw new BitmapException(Code.SLOT_RANGE, where + ": copyFromSlot of our own slot " + other);
        }
        return new SlotMerge(this, other).copy(clearSource);
    }

    // ------------------------------------------------------------------ resize

    /**
     * md's {@code md_bitmap_resize} for our slot: the array now covers {@code newSyncSize}
     * sectors. The chunk size stays; chunks kept keep their state; new chunks (growth) are
     * NEEDED with their bits set on disk, so the new region is resynced even after a crash.
     * The caller quiesces the array first (no write or resync pending, no concurrent call).
     *
     * <p>In a clustered area every slot moves when the slot stride changes, which one node
     * cannot do for the others: such a resize is refused (GEOMETRY); an unclustered bitmap may
     * change its stride. Other slots are resized by their owners, free ones with
     * {@link BitmapArea#resizeSlot}.
     */
    public void resize(long newSyncSize) throws BitmapException {
        lock.lock();
        try {
            if (isClosed()) throw closedException();
            if (!commit.idle()) awaitDurable("draining the bitmap before a resize");
            SlotResize r = new SlotResize(this, newSyncSize);
            SlotState ns = r.build(state, superblock);
            r.write(ns);
            state = ns;
            commit.attach(ns);
            superblock = r.superblock();
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ introspection and close

    /** Our slot number. */
    public int slot() {
        return slot;
    }

    public BitmapGeometry geometry() {
        return state.geometry;
    }

    /** Our slot's superblock as it is (or is about to be) on disk, with current events. */
    public BitmapSuperblock superblock() {
        lock.lock();
        try {
            return superblock.withEvents(events, eventsCleared);
        } finally {
            lock.unlock();
        }
    }

    public BitmapStats stats() {
        return io.snapshot();
    }

    /** Chunks registered for the next round and not yet taken by one (a test hook). */
    int registeredForNextRound() {
        lock.lock();
        try {
            return commit.registered();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Fences the bitmap: it writes nothing to its storage any more. The daemon stops without a
     * cleaning pass (a pass already running finishes), no bit is cleared and the superblock is
     * not rewritten; every later operation that would write (startWrite of a new bit, daemon
     * passes, flush, copyFromSlot, resize, close) fails as fenced (code CLOSED) or does nothing. A fenced node
     * must not touch its slot: another node may already be recovering it. Idempotent.
     */
    public void fence() {
        // every writing path checks the lifecycle under the lock before it writes
        lifecycle.compareAndSet(Lifecycle.OPEN, Lifecycle.FENCED);
        if (daemon != null) daemon.stop();
    }

    /**
     * Stops the daemon and, if no write is pending and the array is not degraded, clears every
     * idle bit that needs no resync (md's {@code bitmap_flush} on a clean stop); then writes
     * the superblock. Bits of pending writes and NEEDED chunks stay set. Does not close the
     * storage. Idempotent.
     */
    @Override
    public void close() throws BitmapException {
        if (daemon != null) daemon.stop();
        lock.lock();
        try {
            if (!lifecycle.compareAndSet(Lifecycle.OPEN, Lifecycle.CLOSED)) return;
            boolean busy = false;
            ChunkCounters cc = state.counters;
            for (int c = 0; c < cc.chunks() && !busy; c++) busy = count(cc.get(c)) > 0;
            if (busy) log.warn("{}: closing with writes still pending; their bits stay set", where);
            if (!busy && !degraded) pass(true);
            superblock = superblock.withEvents(events, eventsCleared);
            state.image.putSuperblock(superblock);
            awaitDurable("writing the bitmap superblock at close");
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ for the parts in this package

    ReentrantLock lock() {
        return lock;
    }

    /** Volatile: the fast paths read it without the lock; it is swapped only under the lock (resize). */
    SlotState state() {
        return state;
    }

    GroupCommit commit() {
        return commit;
    }

    /** Under the lock. */
    BitmapSuperblock superblockLocked() {
        return superblock;
    }

    BitmapArea area() {
        return area;
    }

    IoCounters io() {
        return io;
    }

    String where() {
        return where;
    }

    /** Closed or fenced: nothing more is written. */
    boolean isClosed() {
        return lifecycle.get() != Lifecycle.OPEN;
    }

    BitmapException closedException() {
        return new BitmapException(
                Code.CLOSED,
                where + (lifecycle.get() == Lifecycle.FENCED ? ": bitmap is fenced" : ": bitmap is closed"));
    }

    /** Whether the bitmap may still write, and if not, why. */
    private enum Lifecycle {
        OPEN,
        CLOSED,
        /** Stopped by {@link #fence()}: another node may be recovering this slot. */
        FENCED
    }

    @Override
    public String toString() {
        return "WriteIntentBitmap[" + where + ", " + state.geometry.chunks() + " chunks of "
                + state.geometry.chunkSize() + " bytes]";
    }
}
