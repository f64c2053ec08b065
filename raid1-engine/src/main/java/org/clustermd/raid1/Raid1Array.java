package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.DiskStats;
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.raid1.sb.Superblock;

/**
 * A running md raid1 array on this node (md's {@code mddev} with the raid1 personality's
 * {@code r1conf}): the data path, the sync thread, leg management and md's attributes.
 *
 * <h2>Data path</h2>
 * {@link #readAsync}, {@link #writeAsync}, {@link #flushAsync} and {@link #discardAsync} take byte offsets and lengths
 * that are multiples of {@link #logicalBlockSize()} inside {@link #size()}; anything else fails with
 * {@link Raid1Exception.Code#UNALIGNED} or {@link Raid1Exception.Code#OUT_OF_RANGE} before any leg is touched. A
 * request covers {@code buf.remaining()} bytes from {@code buf.position()}; the array never moves the buffer's
 * position or limit, and the caller must leave the buffer alone until the future completes. Any buffer works; direct
 * buffers aligned to the block size are used as they are, others through a bounce copy. The async forms never throw:
 * failures complete the future with a {@link Raid1Exception}. They may block the submitting thread briefly (a new
 * bitmap bit's flush, a superblock update when the array turns active, a resync barrier or a window another node is
 * resyncing: all bounded by {@link ArrayOptions#ioWait()}), never for the data I/O. Futures complete on the engine's
 * threads ({@link EngineThread}), so a callback chained on one runs there: a request submitted from such a callback is
 * handed to {@code md-submit-<array>}, which may block where the callback must not (the flush of a new bitmap bit
 * completes on the very reaper thread that runs the callback), and the blocking forms ({@link #write}, {@link #read},
 * ...) refuse to run there with an {@link IllegalStateException} instead of waiting for themselves. A write completes
 * when every leg answered: successfully when at least one in-sync leg took it (failed legs are failed and that failure
 * is on the remaining legs' superblocks first), with an error otherwise; FUA reaches every leg, and a flush returns
 * when every in-sync leg made earlier writes durable.
 *
 * <h2>Threads</h2>
 * {@code md-<array>} (superblock updates, safemode, starting and reaping syncs), {@code
 * resync-<array>} (one sync pass), {@code raid1d-<array>} (read error repair), {@code
 * md-events-<array>} (listener calls), {@code bitmap-flush-<array>} (lazy bit clearing), {@code
 * md-submit-<array>} (requests submitted on engine threads; started when first needed), plus the
 * legs' own I/O threads. A critical thread that dies unexpectedly fences the array and says so.
 *
 * <h2>Parts</h2>
 * A facade over {@code MddevCore} (md's {@code mddev} and {@code r1conf}), whose constructor is
 * the wiring: {@code RequestGate} (request checks, peers' windows, first-leg reads), {@code
 * WritePath}, {@code ReadPath}, {@code Mirrors} (mirror set, leg failure, bitmap admission),
 * {@code IoHolds} (quiesce, session hold), {@code ArrayStateMachine}, {@link SyncAttributes} and
 * {@link DeviceAttributes} (md's sysfs groups), {@code MdThread}, {@code Fence}, {@code
 * Submitter}, {@code BitmapLoad} and {@code MdStop}. {@code Legs}, {@code SyncControl}, {@code
 * SyncPass} and {@code MetadataUpdater} reach the rest through the core's package methods.
 *
 * <p>Thread-safe: every public method may be called from any thread.
 */
public final class Raid1Array implements Mddev, AutoCloseable {
    private final MddevCore core;
    private final MdStop stop;

    private Raid1Array(Assembler.Assembly a, ArrayOptions options, ClusterOperations cluster, LeaseHold leaseHold) {
        this.core = new MddevCore(a, options, cluster, leaseHold);
        this.stop = new MdStop(core);
    }

    // ------------------------------------------------------------------ assembly

    /**
     * Assembles the array on {@code legs} (md's {@code mdadm --assemble} and {@code md_run}):
     * freshness by events, stale and foreign legs kicked with a reason (see
     * {@link #kickedAtAssembly()}), the cluster joined, the bitmap loaded, and the md thread
     * started, which begins any resync or recovery the legs need. The array owns the legs from
     * now on, kicked ones included (they are closed).
     *
     * @throws Raid1Exception ASSEMBLY when no in-sync leg is found, METADATA for an unusable
     *     bitmap, CLUSTER when the cluster cannot be joined
     */
    public static Raid1Array assemble(List<? extends BlockDevice> legs, ArrayOptions options) throws Raid1Exception {
        String what = options.name() != null ? options.name() : "array";
        ClusterOperations cluster = options.cluster() != null ? options.cluster() : new StandaloneClusterOperations();
        // every leg write from here on passes the lease: the one choke point (LeaseHold)
        LeaseHold hold =
                new LeaseHold(what, cluster.writeLease(), options.ioWait().toNanos());
        List<BlockDevice> all = new ArrayList<>(legs.size());
        for (BlockDevice d : legs) all.add(hold.guard(d));
        Assembler.Assembly a = Assembler.assemble(what, all);
        Raid1Array array = new Raid1Array(a, options, cluster, hold);
        try {
            array.core.start(array);
        } catch (Raid1Exception | RuntimeException e) {
            array.stop.abort();
            throw e;
        }
        return array;
    }

    /** Opens {@code paths} (O_DIRECT) and {@link #assemble}s them. */
    public static Raid1Array open(List<Path> paths, ArrayOptions options) throws IOException {
        List<BlockDevice> legs = new ArrayList<>();
        try {
            for (Path p : paths) legs.add(BlockDevices.open(p));
        } catch (IOException e) {
            Assembler.closeAll(legs);
            throw e;
        }
        return assemble(legs, options);
    }

    // ------------------------------------------------------------------ identity

    /** The array name (md's md0). */
    @Override
    public String name() {
        return core.name;
    }

    /** set_uuid. */
    @Override
    public UUID uuid() {
        return core.uuid;
    }

    @Override
    public String clusterName() {
        return core.clusterName();
    }

    /** md's level: 1. */
    public int level() {
        return Superblock.LEVEL_RAID1;
    }

    /** raid_disks. */
    public int raidDisks() {
        return core.metadata.raidDisks();
    }

    /** The array size in bytes. */
    public long size() {
        return core.sizeSectors() * BlockDevice.SECTOR_SIZE;
    }

    /** md's component size, sectors. */
    public long sizeSectors() {
        return core.sizeSectors();
    }

    /** The unit of every offset and length: the largest logical block size of the legs. */
    public int logicalBlockSize() {
        return core.blockSize;
    }

    /** The superblock events counter as this node knows it. */
    @Override
    public long events() {
        return core.metadata.events();
    }

    /** md's recovery_cp: everything below is known in sync; {@link Mddev#MAX_SECTOR} when clean. */
    @Override
    public long recoveryCp() {
        return core.metadata.recoveryCp();
    }

    /** The legs that were left out at assembly, with the reason. */
    public List<KickedLeg> kickedAtAssembly() {
        return core.kicked;
    }

    // ------------------------------------------------------------------ data path

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return EngineThread.current()
                ? core.submitter.handOff(() -> core.reads.read(offset, dst))
                : core.reads.read(offset, dst);
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}; with {@code fua} durable on completion. */
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        return EngineThread.current()
                ? core.submitter.handOff(() -> core.writes.write(offset, src, fua))
                : core.writes.write(offset, src, fua);
    }

    /**
     * {@link #writeAsync} for a caller that must never block, such as a network event loop: the
     * future of the write when it could be issued without waiting, or null, with nothing done,
     * when it would have to wait first (the array turning active, a resync window or barrier, a
     * new bitmap bit's flush) or would fail; the caller then uses {@link #writeAsync} from a
     * thread that may block. Issuing waits only for a free AIO slot, when a leg's whole queue
     * depth is in flight. Always null on engine threads (their requests are handed off anyway).
     */
    public CompletableFuture<Void> tryWriteAsync(long offset, ByteBuffer src, boolean fua) {
        return EngineThread.current() ? null : core.writes.tryWrite(offset, src, fua);
    }

    /** {@code writeAsync(offset, src, false)}. */
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
        return writeAsync(offset, src, false);
    }

    /** Makes every write completed before the call durable on every in-sync leg. */
    public CompletableFuture<Void> flushAsync() {
        return EngineThread.current() ? core.submitter.handOff(core.writes::flush) : core.writes.flush();
    }

    /** Discards {@code length} bytes at {@code offset} (checked; the legs keep their data). */
    public CompletableFuture<Void> discardAsync(long offset, long length) {
        return core.writes.discard(offset, length);
    }

    public void read(long offset, ByteBuffer dst) throws IOException {
        Submitter.checkMayBlock(core.name, "read");
        await(readAsync(offset, dst));
    }

    public void write(long offset, ByteBuffer src) throws IOException {
        Submitter.checkMayBlock(core.name, "write");
        await(writeAsync(offset, src, false));
    }

    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        Submitter.checkMayBlock(core.name, "write");
        await(writeAsync(offset, src, fua));
    }

    public void flush() throws IOException {
        Submitter.checkMayBlock(core.name, "flush");
        await(flushAsync());
    }

    public void discard(long offset, long length) throws IOException {
        Submitter.checkMayBlock(core.name, "discard");
        await(discardAsync(offset, length));
    }

    private void await(CompletableFuture<Void> f) throws IOException {
        BlockDevice.await(f);
    }

    // ------------------------------------------------------------------ attributes

    /** md's array_core.state. */
    public ArrayState arrayState() {
        return core.state.state();
    }

    /** Writes array_state: readonly, read-auto, active or clean (others: INVALID). */
    public void arrayState(ArrayState target) throws Raid1Exception {
        core.state.set(target, core.ioWaitNanos);
    }

    /** The current legs. */
    public MirrorSet mirrors() {
        return core.mirrors.current();
    }

    /** md's degraded: roles without an in-sync leg. */
    public int degraded() {
        return core.mirrors.current().degraded();
    }

    /** md's sync_* attributes as one group (the methods below are its short forms). */
    public SyncAttributes sync() {
        return core.syncAttributes;
    }

    /** {@link SyncAttributes#action()}. */
    public SyncAction syncAction() {
        return core.syncAttributes.action();
    }

    /** {@link SyncAttributes#action(SyncAction)}. */
    public void syncAction(SyncAction action) throws Raid1Exception {
        core.syncAttributes.action(action);
    }

    /** {@link SyncAttributes#status()}. */
    public String syncStatus() {
        return core.syncAttributes.status();
    }

    /** {@link SyncAttributes#completed()}. */
    public String syncCompleted() {
        return core.syncAttributes.completed();
    }

    /** {@link SyncAttributes#speed()}. */
    public long syncSpeed() {
        return core.syncAttributes.speed();
    }

    public long syncSpeedMin() {
        return core.syncAttributes.speedMin();
    }

    public void syncSpeedMin(long kib) throws Raid1Exception {
        core.syncAttributes.speedMin(kib);
    }

    public long syncSpeedMax() {
        return core.syncAttributes.speedMax();
    }

    public void syncSpeedMax(long kib) throws Raid1Exception {
        core.syncAttributes.speedMax(kib);
    }

    /** {@link SyncAttributes#min()}. */
    public long syncMin() {
        return core.syncAttributes.min();
    }

    public void syncMin(long sectors) throws Raid1Exception {
        core.syncAttributes.min(sectors);
    }

    /** {@link SyncAttributes#max()}. */
    public long syncMax() {
        return core.syncAttributes.max();
    }

    public void syncMax(long sectors) throws Raid1Exception {
        core.syncAttributes.max(sectors);
    }

    /** {@link SyncAttributes#mismatchCount()}. */
    public long mismatchCount() {
        return core.syncAttributes.mismatchCount();
    }

    /** {@link SyncAttributes#last()}. */
    public Optional<SyncReport> lastSync() {
        return core.syncAttributes.last();
    }

    /** {@link SyncAttributes#awaitIdle(Duration)}. */
    public Optional<SyncReport> awaitSyncIdle(Duration timeout) throws Raid1Exception {
        return core.syncAttributes.awaitIdle(timeout);
    }

    /** I/O counted once per request on the array, in /proc/diskstats terms (per leg: {@link Mirror#stats()}). */
    public DiskStats stats() {
        return core.accounting.snapshot();
    }

    /** The bitmap's chunk size in bytes, 0 without a bitmap. */
    public long bitmapChunkSize() {
        WriteIntentBitmap b = core.bitmapOrNull();
        return b == null ? 0 : b.geometry().chunkSize();
    }

    /** Chunks whose bit is set in this node's slot. */
    public long bitmapDirtyChunks() {
        WriteIntentBitmap b = core.bitmapOrNull();
        return b == null ? 0 : b.dirtyChunks();
    }

    @Override
    public Optional<WriteIntentBitmap> bitmap() {
        return Optional.ofNullable(core.bitmapOrNull());
    }

    public void addListener(ArrayListener l) {
        core.notifier.add(l);
    }

    public void removeListener(ArrayListener l) {
        core.notifier.remove(l);
    }

    // ------------------------------------------------------------------ legs

    /**
     * md's {@code dev-<leg>/} attributes as one group (the leg methods below are its short
     * forms); the leg is looked up on every call, so any name is accepted here.
     */
    public DeviceAttributes device(String leg) {
        return new DeviceAttributes(core.name, leg, core.mirrors, core.legs, core.closing::get);
    }

    /** {@link DeviceAttributes#fail()}. */
    public void failDevice(String leg) throws Raid1Exception {
        device(leg).fail();
    }

    /** {@link DeviceAttributes#remove()}. */
    public void removeDevice(String leg) throws Raid1Exception {
        device(leg).remove();
    }

    /** mdadm --add of a new device: it becomes a spare; a missing role gets it (full recovery). */
    public void addDevice(BlockDevice device) throws Raid1Exception {
        checkOpen();
        core.legs.add(device);
    }

    /**
     * mdadm --grow --raid-devices: {@code n} roles. More roles are taken by spares (recovered);
     * fewer only when no leg holds the roles given up. In a cluster every peer follows.
     *
     * @throws Raid1Exception INVALID for a count out of range, BUSY while a sync runs or a leg
     *     holds a role given up
     */
    public void growRaidDisks(int n) throws Raid1Exception {
        core.legs.growRaidDisks(n);
    }

    /**
     * mdadm --grow --size: the array grows to {@code sectors} (a multiple of 8, 4 KiB); the new
     * region is resynced. In a cluster every node's bitmap slot must cover the new size first,
     * and every node grows at once (docs/md-cluster-protocol.md §f.7). A refused grow leaves the
     * size, the superblocks and every node as they were.
     *
     * @throws Raid1Exception INVALID for a shrink, a size the smallest leg or the bitmap's slots
     *     cannot hold ({@link #maxSizeSectors()}), BUSY while a sync runs here or on a peer,
     *     CLUSTER when a peer's slot does not cover the new size
     */
    public void growSize(long sectors) throws Raid1Exception {
        checkOpen();
        core.sizes.grow(sectors);
    }

    /** The largest size the smallest leg's data area allows (mdadm's {@code --size max}), sectors. */
    public long maxSizeSectors() {
        return core.sizes.maxSectors();
    }

    /** {@link DeviceAttributes#reAdd()}. */
    public void reAddDevice(String leg) throws Raid1Exception {
        device(leg).reAdd();
    }

    /** mdadm --re-add of a leg that is no longer a member (removed, or kicked at assembly). */
    public void reAddDevice(BlockDevice device) throws Raid1Exception {
        checkOpen();
        core.legs.reAdd(device);
    }

    /** {@link DeviceAttributes#writeMostly(boolean)}. */
    public void writeMostly(String leg, boolean on) throws Raid1Exception {
        device(leg).writeMostly(on);
    }

    /** {@link DeviceAttributes#state(String)}. */
    public void deviceState(String leg, String word) throws Raid1Exception {
        device(leg).state(word);
    }

    // ------------------------------------------------------------------ Mddev (cluster callbacks)

    @Override
    public void quiesce() throws Raid1Exception {
        core.holds.quiesce();
    }

    @Override
    public void unquiesce() {
        core.holds.unquiesce();
    }

    @Override
    public boolean holdForSession() {
        return core.holds.holdForSession();
    }

    @Override
    public void releaseSessionHold() {
        if (core.holds.releaseSessionHold()) {
            core.sync.requestRecovery(); // a sync interrupted or not started while held
        }
    }

    @Override
    public void drainRange(long lo, long hi, Duration bound) throws Raid1Exception {
        core.holds.drainRange(lo, hi, bound.toNanos());
    }

    @Override
    public void suspendedRangeChanged() {
        core.gate.windowChanged();
    }

    @Override
    public void reloadSuperblock(int devNumber) throws Raid1Exception {
        core.peers.reloadSuperblock(devNumber);
    }

    @Override
    public void reloadSuperblock() throws Raid1Exception {
        core.peers.reloadSuperblock();
    }

    @Override
    public Duration ioWait() {
        return Duration.ofNanos(core.ioWaitNanos);
    }

    @Override
    public long foregroundRequests() {
        return core.requestsStarted();
    }

    @Override
    public void requestRecovery() {
        core.sync.requestRecovery();
    }

    @Override
    public void lowerRecoveryCp(long sector) {
        core.metadata.lowerRecoveryCp(sector);
        core.sync.requestRecovery(); // even when the checkpoint was that low already: the bits are new work
    }

    @Override
    public void clusterRemove(int devNumber) {
        core.peers.clusterRemove(devNumber);
    }

    @Override
    public boolean deviceInUse(int devNumber, UUID deviceUuid) {
        MirrorSet set = core.mirrors();
        return set.byDevNumber(devNumber).isPresent()
                || set.mirrors().stream().anyMatch(m -> m.deviceUuid().equals(deviceUuid));
    }

    @Override
    public void clusterAdd(BlockDevice device) throws Raid1Exception {
        core.peers.clusterAdd(device);
    }

    @Override
    public void clusterReAdd(int devNumber) {
        core.peers.clusterReAdd(devNumber);
    }

    @Override
    public void changeCapacity() {
        core.sizes.capacityChanged();
    }

    @Override
    public void finishInterruptedGrow() throws Raid1Exception {
        core.sizes.finishInterrupted();
    }

    @Override
    public void fillSkippedSlot(int slot) throws Raid1Exception {
        core.mirrors.fillSkippedSlot(slot);
    }

    /**
     * Stops all I/O for good (see {@link FenceReason}): every new request fails with FENCED,
     * nothing more is written to the legs by this array. The first reason sticks.
     */
    @Override
    public void fence(FenceReason reason, Throwable cause) {
        core.fence(reason, cause);
    }

    /** Why the array fenced itself, if it did. */
    public Optional<FenceReason> fenceReason() {
        return core.fence.reason();
    }

    // ------------------------------------------------------------------ close

    /**
     * md's stop: refuses new requests, stops and reaps the sync thread (its progress is
     * checkpointed), lets requests in flight finish, marks the array clean, closes the bitmap
     * (idle bits cleared), leaves the cluster and closes the legs. Idempotent.
     */
    @Override
    public void close() {
        stop.stop();
    }

    // ------------------------------------------------------------------ engine internals (tests)

    SyncControl syncControl() {
        return core.sync;
    }

    ReentrantLock reconfigLock() {
        return core.reconfig;
    }

    private void checkOpen() throws Raid1Exception {
        if (core.closing.get()) throw new Raid1Exception(Raid1Exception.Code.CLOSED, core.name + ": array is stopped");
    }

    @Override
    public String toString() {
        return "Raid1Array[" + core.name + " " + core.uuid + ", " + core.mirrors + "]";
    }
}
