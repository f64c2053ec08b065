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
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapOptions;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.DiskStats;
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.raid1.io.IoAccounting;
import org.clustermd.raid1.resync.ResyncBarrier;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A running md raid1 array on this node (md's {@code mddev} with the raid1 personality's
 * {@code r1conf}): the data path, the sync thread, leg management and md's attributes.
 *
 * <h2>Data path</h2>
 * {@link #readAsync}, {@link #writeAsync}, {@link #flushAsync} and {@link #discardAsync} take
 * byte offsets and lengths that are multiples of {@link #logicalBlockSize()} inside
 * {@link #size()}; anything else fails with {@link Raid1Exception.Code#UNALIGNED} or
 * {@link Raid1Exception.Code#OUT_OF_RANGE} before any leg is touched. A request covers
 * {@code buf.remaining()} bytes from {@code buf.position()}; the array never moves the buffer's
 * position or limit, and the caller must leave the buffer alone until the future completes. Any
 * buffer works; direct buffers aligned to the block size are used as they are, others through a
 * bounce copy. The async forms never throw: failures complete the future with a
 * {@link Raid1Exception}. They may block the submitting thread briefly (a new bitmap bit's
 * flush, a superblock update when the array turns active, a resync barrier or a window another
 * node is resyncing: all bounded by {@link ArrayOptions#ioWait()}), never for the data I/O.
 * Futures complete on the engine's threads ({@link EngineThread}), so a callback chained on one
 * runs there: a request submitted from such a callback is handed to {@code md-submit-<array>},
 * which may block where the callback must not (the flush of a new bitmap bit completes on the
 * very reaper thread that runs the callback), and the blocking forms ({@link #write},
 * {@link #read}, ...) refuse to run there with an {@link IllegalStateException} instead of
 * waiting for themselves.
 * A write completes when every leg answered: successfully when at least one in-sync leg took it
 * (failed legs are failed and that failure is on the remaining legs' superblocks first), with
 * an error otherwise; FUA reaches every leg, and a flush returns when every in-sync leg made
 * earlier writes durable.
 *
 * <h2>Threads</h2>
 * {@code md-<array>} (superblock updates, safemode, starting and reaping syncs),
 * {@code resync-<array>} (one sync pass), {@code raid1d-<array>} (read error repair),
 * {@code md-events-<array>} (listener calls), {@code bitmap-flush-<array>} (lazy bit clearing),
 * {@code md-submit-<array>} (requests submitted on engine threads; started when first needed),
 * plus the legs' own I/O threads. A critical thread that dies of an unexpected failure fences the
 * array and tells the listeners.
 *
 * <h2>Parts</h2>
 * The array is a facade; the constructor is the wiring, and each part gets the parts it uses:
 * {@code RequestGate} (request checks, the wait on a peer's window, first-leg reads),
 * {@code WritePath} and {@code ReadPath} (the data path), {@code Mirrors} (the mirror set, leg
 * failure, bitmap admission), {@code IoHolds} (quiesce and the session hold),
 * {@code ArrayStateMachine} (array_state), {@link SyncAttributes} and {@link DeviceAttributes}
 * (md's sysfs groups, {@link #sync()} and {@link #device(String)}), {@code MdThread}. {@code Legs},
 * {@code SyncControl}, {@code SyncPass} and {@code MetadataUpdater} still take
 * the array itself and reach the rest through its package methods.
 *
 * <p>Thread-safe: every public method may be called from any thread.
 */
public final class Raid1Array implements Mddev, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(Raid1Array.class);

    private final String name;
    private final UUID uuid;
    private final ArrayOptions options;
    private final ClusterOperations cluster;
    private final LeaseHold leaseHold;
    private final long ioWaitNanos;
    private final int blockSize;
    private final long sizeSectors;
    private final ArrayMetadata metadata;
    private final List<KickedLeg> kicked;
    private final Mirrors mirrors;
    private final ResyncBarrier barrier = new ResyncBarrier();
    private final IoAccounting accounting = new IoAccounting();
    private final ReentrantLock reconfig = new ReentrantLock();
    private final IoHolds holds;
    private final Notifier notifier;
    private final ArrayStateMachine state;
    private final MetadataUpdater updater;
    private final SyncControl sync;
    private final RequestGate gate;
    private final SyncAttributes syncAttributes;
    private final Legs legs;
    private final WritePath writes;
    private final ReadPath reads;
    private final MdThread mdThread;
    private final ExecutorService raid1d;
    private final ThreadPoolExecutor submitter;
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile FenceReason fenced;
    private volatile WriteIntentBitmap bitmap;
    private volatile boolean bitmapTrusted = true;
    private volatile String clusterName = "";

    private Raid1Array(Assembler.Assembly a, ArrayOptions options, ClusterOperations cluster, LeaseHold leaseHold) {
        Superblock sb = a.freshest();
        this.name = options.name() != null ? options.name() : sb.setName().isEmpty() ? "md" : sb.setName();
        this.uuid = sb.setUuid();
        this.options = options;
        this.cluster = cluster;
        this.leaseHold = leaseHold;
        this.ioWaitNanos = options.ioWait().toNanos();
        int bs = 512;
        for (Mirror m : a.members()) bs = Math.max(bs, m.leg().device.logicalBlockSize());
        this.blockSize = bs;
        this.sizeSectors = sb.size();
        this.metadata = new ArrayMetadata(sb, a.superblocks());
        this.kicked = List.copyOf(a.kicked());
        this.notifier = new Notifier(name);
        boolean clustered = sb.hasFeature(Superblock.FEATURE_CLUSTERED) || cluster.isClustered();
        long safemode = clustered ? 0 : options.safemodeDelay().toNanos();
        this.raid1d = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new EngineThread(r, "raid1d-" + name);
            t.setUncaughtExceptionHandler((th, e) -> fence(FenceReason.CRITICAL_THREAD_FAILED, e));
            return t;
        });
        // the wiring: each part gets the parts it uses; the bitmap is read through () -> bitmap,
        // since it is opened only in start()
        this.updater = new MetadataUpdater(this);
        this.state = new ArrayStateMachine(name, metadata, safemode, options.readOnly(), updater::request, this::notifyChange);
        this.sync = new SyncControl(this, reconfig, options.startFrozen());
        this.mirrors = new Mirrors(name, new MirrorSet(1, sb.raidDisks(), a.members()), () -> bitmap, () -> fenced != null,
                this::notifyChange, sync, updater);
        this.gate = new RequestGate(name, blockSize, size(), ioWaitNanos, closing::get, () -> fenced, state, cluster, metadata,
                sync);
        this.holds = new IoHolds(name, barrier, state, () -> fenced != null, gate::windowChanged, ioWaitNanos);
        this.syncAttributes = new SyncAttributes(name, sync, cluster, metadata, mirrors, closing::get);
        this.legs = new Legs(this);
        this.writes = new WritePath(name, gate, state, barrier, accounting, mirrors, updater, () -> bitmap, ioWaitNanos);
        this.reads = new ReadPath(name, gate, barrier, accounting, mirrors, raid1d, ioWaitNanos);
        this.mdThread = new MdThread(name, this::mdCheck, this::fence);
        // not an EngineThread: it exists to block where engine threads must not
        this.submitter = new ThreadPoolExecutor(1, 1, 10, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new Thread(r, "md-submit-" + name);
            t.setDaemon(true);
            t.setUncaughtExceptionHandler((th, e) -> fence(FenceReason.CRITICAL_THREAD_FAILED, e));
            return t;
        });
        this.submitter.allowCoreThreadTimeOut(true);
        leaseHold.attach(this);
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
        LeaseHold hold = new LeaseHold(what, cluster.writeLease(), options.ioWait().toNanos());
        List<BlockDevice> all = new ArrayList<>(legs.size());
        for (BlockDevice d : legs) all.add(hold.guard(d));
        Assembler.Assembly a = Assembler.assemble(what, all);
        Raid1Array array = new Raid1Array(a, options, cluster, hold);
        try {
            array.start();
        } catch (Raid1Exception | RuntimeException e) {
            array.abort();
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

    private void start() throws Raid1Exception {
        Superblock sb = metadata.template();
        int nodes = 1;
        BitmapArea area = null;
        if (sb.hasFeature(Superblock.FEATURE_BITMAP_OFFSET)) {
            long areaStart = (sb.superOffset() + sb.bitmapOffset()) * BlockDevice.SECTOR_SIZE;
            long areaSize = (sb.dataOffset() * BlockDevice.SECTOR_SIZE - areaStart) / 4096 * 4096;
            try {
                area = BitmapArea.read(mirrors.openBitmapStorage(areaStart, areaSize));
            } catch (BitmapException e) {
                throw new Raid1Exception(Raid1Exception.Code.METADATA, name + ": the bitmap is unusable: " + e.getMessage(), e);
            }
            BitmapSuperblock first = area.superblock();
            if (!first.uuid().equals(sb.setUuid())) {
                // slot 0 is the one every other slot is checked against: blaming slot 1 would send the operator astray
                throw new Raid1Exception(Raid1Exception.Code.METADATA, name + ": the bitmap is unusable: slot 0's uuid "
                        + SuperblockCodec.mdadmUuid(first.uuid()) + " is not the array's " + SuperblockCodec.mdadmUuid(sb.setUuid())
                        + " (md ignores such a bitmap)");
            }
            if (Long.compareUnsigned(first.syncSize(), sb.dataSize()) > 0) {
                // the other slots' places follow from it: reading them would only report a bad magic
                throw new Raid1Exception(Raid1Exception.Code.METADATA, name + ": the bitmap is unusable: slot 0's sync_size "
                        + first.syncSize() + " sectors is more than the data_size " + sb.dataSize() + " sectors");
            }
            nodes = first.slots();
            clusterName = first.clusterName();
        }
        cluster.join(this, nodes);
        if (area != null) openBitmap(area);
        cluster.loadBitmaps(bitmap);
        mdThread.start();
        state.started();
        if (!kicked.isEmpty()) updater.request("legs kicked at assembly");
        sync.requestRecovery();
        log.info("{}: assembled, {} ({} kicked), events {}, {}", name, mirrors, kicked.size(), metadata.events(),
                bitmap != null ? bitmap : "no bitmap");
    }

    private void openBitmap(BitmapArea area) throws Raid1Exception {
        int slot = cluster.slotNumber();
        MirrorSet set = mirrors.current();
        try {
            BitmapSuperblock own = area.readSuperblock(slot);
            long events = metadata.events();
            // md's bitmap_load: while degraded every set bit is kept NEEDED, so a returning leg can
            // be recovered from them, unless nothing was cleared since the array was last whole
            long load = metadata.recoveryCp();
            if (set.missingRoles() > 0 && own.eventsCleared() != events) load = 0;
            if (!own.clustered() && own.events() < events) {
                log.warn("{}: bitmap events {} < array events {}: the bitmap is out of date, forcing a full resync", name,
                        own.events(), events);
                bitmapTrusted = false;
                metadata.recoveryCp(0);
            }
            WriteIntentBitmap b = WriteIntentBitmap.open(area.storage(), slot, BitmapOptions.builder()
                    .name(name)
                    .clock(options.bitmapClock())
                    .startDaemon(options.bitmapDaemon())
                    .recoveryCp(load)
                    .daemonFailureListener(e -> log.warn("{}: bitmap daemon: {}", name, e.toString()))
                    .build());
            b.setDegraded(set.missingRoles() > 0);
            bitmap = b;
        } catch (BitmapException e) {
            throw new Raid1Exception(Raid1Exception.Code.METADATA, name + ": opening bitmap slot " + slot + " failed: "
                    + e.getMessage(), e);
        }
    }

    /** Undoes a failed start: nothing was written. */
    private void abort() {
        closing.set(true);
        mdThread.stop();
        WriteIntentBitmap b = bitmap;
        if (b != null) {
            try {
                b.close();
            } catch (BitmapException e) {
                log.warn("{}: closing the bitmap: {}", name, e.getMessage());
            }
        }
        cluster.leave(true);
        leaseHold.close();
        for (Mirror m : mirrors.current().mirrors()) Assembler.closeQuietly(m.leg().device);
        raid1d.shutdownNow();
        notifier.close();
    }

    // ------------------------------------------------------------------ identity

    /** The array name (md's md0). */
    @Override
    public String name() {
        return name;
    }

    /** set_uuid. */
    @Override
    public UUID uuid() {
        return uuid;
    }

    @Override
    public String clusterName() {
        return clusterName;
    }

    /** md's level: 1. */
    public int level() {
        return Superblock.LEVEL_RAID1;
    }

    /** raid_disks. */
    public int raidDisks() {
        return metadata.raidDisks();
    }

    /** The array size in bytes. */
    public long size() {
        return sizeSectors * BlockDevice.SECTOR_SIZE;
    }

    /** md's component size, sectors. */
    public long sizeSectors() {
        return sizeSectors;
    }

    /** The unit of every offset and length: the largest logical block size of the legs. */
    public int logicalBlockSize() {
        return blockSize;
    }

    /** The superblock events counter as this node knows it. */
    @Override
    public long events() {
        return metadata.events();
    }

    /** md's recovery_cp: everything below is known in sync; {@link Mddev#MAX_SECTOR} when clean. */
    @Override
    public long recoveryCp() {
        return metadata.recoveryCp();
    }

    /** The legs that were left out at assembly, with the reason. */
    public List<KickedLeg> kickedAtAssembly() {
        return kicked;
    }

    // ------------------------------------------------------------------ data path

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return EngineThread.current() ? handOff(() -> reads.read(offset, dst)) : reads.read(offset, dst);
    }

    /** Writes {@code src.remaining()} bytes at {@code offset}; with {@code fua} durable on completion. */
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        return EngineThread.current() ? handOff(() -> writes.write(offset, src, fua)) : writes.write(offset, src, fua);
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
        return EngineThread.current() ? null : writes.tryWrite(offset, src, fua);
    }

    /** {@code writeAsync(offset, src, false)}. */
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
        return writeAsync(offset, src, false);
    }

    /** Makes every write completed before the call durable on every in-sync leg. */
    public CompletableFuture<Void> flushAsync() {
        return EngineThread.current() ? handOff(writes::flush) : writes.flush();
    }

    /** Discards {@code length} bytes at {@code offset} (checked; the legs keep their data). */
    public CompletableFuture<Void> discardAsync(long offset, long length) {
        return writes.discard(offset, length);
    }

    public void read(long offset, ByteBuffer dst) throws IOException {
        checkMayBlock("read");
        await(readAsync(offset, dst));
    }

    public void write(long offset, ByteBuffer src) throws IOException {
        checkMayBlock("write");
        await(writeAsync(offset, src, false));
    }

    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        checkMayBlock("write");
        await(writeAsync(offset, src, fua));
    }

    public void flush() throws IOException {
        checkMayBlock("flush");
        await(flushAsync());
    }

    public void discard(long offset, long length) throws IOException {
        checkMayBlock("discard");
        await(discardAsync(offset, length));
    }

    private void await(CompletableFuture<Void> f) throws IOException {
        BlockDevice.await(f);
    }

    /**
     * Runs a request submitted on an engine thread on {@code md-submit}, in submission order.
     * Only the steps before the leg I/O run there; the I/O itself completes as usual.
     */
    private CompletableFuture<Void> handOff(Supplier<CompletableFuture<Void>> request) {
        CompletableFuture<Void> out = new CompletableFuture<>();
        try {
            submitter.execute(() -> {
                CompletableFuture<Void> f;
                try {
                    f = request.get();
                } catch (RuntimeException e) { // the request paths never throw; keep the promise anyway
                    f = CompletableFuture.failedFuture(e);
                }
                f.whenComplete((v, t) -> {
                    if (t == null) out.complete(null);
                    else out.completeExceptionally(t);
                });
            });
        } catch (RejectedExecutionException e) {
            out.completeExceptionally(new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": the array is closed"));
        }
        return out;
    }

    /** The blocking forms would wait on the thread that has to complete them. */
    private void checkMayBlock(String what) {
        if (EngineThread.current()) {
            throw new IllegalStateException(name + ": blocking " + what + " called on engine thread "
                    + Thread.currentThread().getName() + "; use the async form from an I/O completion");
        }
    }

    // ------------------------------------------------------------------ attributes

    /** md's array_state. */
    public ArrayState arrayState() {
        return state.state();
    }

    /** Writes array_state: readonly, read-auto, active or clean (others: INVALID). */
    public void arrayState(ArrayState target) throws Raid1Exception {
        state.set(target, ioWaitNanos);
    }

    /** The current legs. */
    public MirrorSet mirrors() {
        return mirrors.current();
    }

    /** md's degraded: roles without an in-sync leg. */
    public int degraded() {
        return mirrors.current().degraded();
    }

    /** md's sync_* attributes as one group (the methods below are its short forms). */
    public SyncAttributes sync() {
        return syncAttributes;
    }

    /** {@link SyncAttributes#action()}. */
    public SyncAction syncAction() {
        return syncAttributes.action();
    }

    /** {@link SyncAttributes#action(SyncAction)}. */
    public void syncAction(SyncAction action) throws Raid1Exception {
        syncAttributes.action(action);
    }

    /** {@link SyncAttributes#status()}. */
    public String syncStatus() {
        return syncAttributes.status();
    }

    /** {@link SyncAttributes#completed()}. */
    public String syncCompleted() {
        return syncAttributes.completed();
    }

    /** {@link SyncAttributes#speed()}. */
    public long syncSpeed() {
        return syncAttributes.speed();
    }

    public long syncSpeedMin() {
        return syncAttributes.speedMin();
    }

    public void syncSpeedMin(long kib) throws Raid1Exception {
        syncAttributes.speedMin(kib);
    }

    public long syncSpeedMax() {
        return syncAttributes.speedMax();
    }

    public void syncSpeedMax(long kib) throws Raid1Exception {
        syncAttributes.speedMax(kib);
    }

    /** {@link SyncAttributes#min()}. */
    public long syncMin() {
        return syncAttributes.min();
    }

    public void syncMin(long sectors) throws Raid1Exception {
        syncAttributes.min(sectors);
    }

    /** {@link SyncAttributes#max()}. */
    public long syncMax() {
        return syncAttributes.max();
    }

    public void syncMax(long sectors) throws Raid1Exception {
        syncAttributes.max(sectors);
    }

    /** {@link SyncAttributes#mismatchCount()}. */
    public long mismatchCount() {
        return syncAttributes.mismatchCount();
    }

    /** {@link SyncAttributes#last()}. */
    public Optional<SyncReport> lastSync() {
        return syncAttributes.last();
    }

    /** {@link SyncAttributes#awaitIdle(Duration)}. */
    public Optional<SyncReport> awaitSyncIdle(Duration timeout) throws Raid1Exception {
        return syncAttributes.awaitIdle(timeout);
    }

    /** I/O counted once per request on the array, in /proc/diskstats terms (per leg: {@link Mirror#stats()}). */
    public DiskStats stats() {
        return accounting.snapshot();
    }

    /** The bitmap's chunk size in bytes, 0 without a bitmap. */
    public long bitmapChunkSize() {
        WriteIntentBitmap b = bitmap;
        return b == null ? 0 : b.geometry().chunkSize();
    }

    /** Chunks whose bit is set in this node's slot. */
    public long bitmapDirtyChunks() {
        WriteIntentBitmap b = bitmap;
        return b == null ? 0 : b.dirtyChunks();
    }

    @Override
    public Optional<WriteIntentBitmap> bitmap() {
        return Optional.ofNullable(bitmap);
    }

    public void addListener(ArrayListener l) {
        notifier.add(l);
    }

    public void removeListener(ArrayListener l) {
        notifier.remove(l);
    }

    // ------------------------------------------------------------------ legs

    /**
     * md's {@code dev-<leg>/} attributes as one group (the leg methods below are its short
     * forms); the leg is looked up on every call, so any name is accepted here.
     */
    public DeviceAttributes device(String leg) {
        return new DeviceAttributes(name, leg, mirrors, legs, closing::get);
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
        legs.add(device);
    }

    /** {@link DeviceAttributes#reAdd()}. */
    public void reAddDevice(String leg) throws Raid1Exception {
        device(leg).reAdd();
    }

    /** mdadm --re-add of a leg that is no longer a member (removed, or kicked at assembly). */
    public void reAddDevice(BlockDevice device) throws Raid1Exception {
        checkOpen();
        legs.reAdd(device);
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
        holds.quiesce();
    }

    @Override
    public void unquiesce() {
        holds.unquiesce();
    }

    @Override
    public boolean holdForSession() {
        return holds.holdForSession();
    }

    @Override
    public void releaseSessionHold() {
        if (holds.releaseSessionHold()) {
            sync.requestRecovery(); // a sync interrupted or not started while held
        }
    }

    /** True while I/O is held for the cluster session ({@link #holdForSession}). */
    boolean sessionHeld() {
        return holds.sessionHeld();
    }

    @Override
    public void suspendedRangeChanged() {
        gate.windowChanged();
    }

    @Override
    public void reloadSuperblock(int devNumber) throws Raid1Exception {
        legs.reloadSuperblock(devNumber);
    }

    @Override
    public void reloadSuperblock() throws Raid1Exception {
        legs.reloadSuperblock();
    }

    @Override
    public Duration ioWait() {
        return Duration.ofNanos(ioWaitNanos);
    }

    @Override
    public void requestRecovery() {
        sync.requestRecovery();
    }

    @Override
    public void lowerRecoveryCp(long sector) {
        metadata.lowerRecoveryCp(sector);
        sync.requestRecovery(); // even when the checkpoint was that low already: the bits are new work
    }

    @Override
    public void clusterRemove(int devNumber) {
        legs.clusterRemove(devNumber);
    }

    @Override
    public void clusterReAdd(int devNumber) {
        legs.clusterReAdd(devNumber);
    }

    /**
     * Stops all I/O for good (see {@link FenceReason}): every new request fails with FENCED,
     * nothing more is written to the legs by this array. The first reason sticks.
     */
    @Override
    public void fence(FenceReason reason, Throwable cause) {
        synchronized (this) {
            if (fenced != null) return;
            fenced = reason;
        }
        log.error("{}: fenced: {}", name, reason, cause);
        WriteIntentBitmap b = bitmap;
        if (b != null) {
            // not even the lazy clearing may write on: another node may be recovering our slot
            b.fence();
        }
        sync.interruptForError();
        state.suspended(true);
        suspendedRangeChanged();
        notifier.fenced(reason, cause);
    }

    /** Why the array fenced itself, if it did. */
    public Optional<FenceReason> fenceReason() {
        return Optional.ofNullable(fenced);
    }

    // ------------------------------------------------------------------ close

    /**
     * md's stop: refuses new requests, stops and reaps the sync thread (its progress is
     * checkpointed), lets requests in flight finish, marks the array clean, closes the bitmap
     * (idle bits cleared), leaves the cluster and closes the legs. Idempotent.
     */
    @Override
    public void close() {
        if (!closing.compareAndSet(false, true)) return;
        submitter.shutdown(); // queued requests still run, and fail as closed
        sync.stopForClose();
        mdThread.stop();
        long deadline = System.nanoTime() + ioWaitNanos;
        while ((accounting.inFlight() > 0 || !submitter.isTerminated()) && System.nanoTime() - deadline < 0) {
            updater.runPending();
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (fenced == null) {
            state.markClean("stop");
            updater.runPending();
        }
        WriteIntentBitmap b = bitmap;
        if (b != null && fenced == null) {
            try {
                b.close();
            } catch (BitmapException e) {
                log.warn("{}: closing the bitmap: {}", name, e.getMessage());
            }
        }
        cluster.leave(metadata.recoveryCp() == Mddev.MAX_SECTOR);
        raid1d.shutdown();
        try {
            raid1d.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        leaseHold.close();
        for (Mirror m : mirrors.current().mirrors()) Assembler.closeQuietly(m.leg().device);
        state.closed();
        notifier.close();
        log.info("{}: stopped", name);
    }

    // ------------------------------------------------------------------ engine internals

    ArrayOptions options() {
        return options;
    }

    ClusterOperations cluster() {
        return cluster;
    }

    ArrayMetadata metadata() {
        return metadata;
    }

    ResyncBarrier barrier() {
        return barrier;
    }

    IoAccounting accounting() {
        return accounting;
    }

    MetadataUpdater updater() {
        return updater;
    }

    SyncControl syncControl() {
        return sync;
    }

    Legs legs() {
        return legs;
    }

    ReentrantLock reconfigLock() {
        return reconfig;
    }

    long ioWaitNanos() {
        return ioWaitNanos;
    }

    WriteIntentBitmap bitmapOrNull() {
        return bitmap;
    }

    boolean bitmapTrusted() {
        return bitmapTrusted;
    }

    boolean isFenced() {
        return fenced != null;
    }

    LeaseHold leaseHold() {
        return leaseHold;
    }

    long requestsStarted() {
        return gate.requestsStarted();
    }

    void wakeMdThread() {
        mdThread.wakeup();
    }

    void notifyChange(AttributeChange change) {
        notifier.changed(change);
    }

    /** One md thread pass; returns nanoseconds until it wants to run again. */
    long mdCheck() {
        updater.runPending();
        long next = state.checkSafemode();
        updater.runPending();
        if (!closing.get()) sync.checkRecovery();
        updater.runPending();
        return next;
    }

    private void checkOpen() throws Raid1Exception {
        if (closing.get()) throw new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": array is stopped");
    }

    void checkNotFenced() throws Raid1Exception {
        gate.checkNotFenced();
    }

    MirrorSet publish(UnaryOperator<MirrorSet> change) {
        return mirrors.publish(change);
    }

    /** See {@link Mirrors#legFailed}. */
    CompletableFuture<Void> legFailed(Mirror m, IOException cause) {
        return mirrors.legFailed(m, cause);
    }

    long failuresMarked() {
        return mirrors.failuresMarked();
    }

    void failuresRecorded(long marked) {
        mirrors.failuresRecorded(marked);
    }

    void markFaultyLocally(Mirror m, String why) {
        mirrors.markFaultyLocally(m, why);
    }

    void admitToBitmap(Leg leg, Runnable makeTarget) throws IOException {
        mirrors.admitToBitmap(leg, makeTarget);
    }

    /** Waits for a superblock update, bounded; its failure becomes an IO_ERROR. */
    static void awaitUpdate(String array, CompletableFuture<Void> f, long timeoutNanos, String what) throws Raid1Exception {
        try {
            f.get(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, array + ": " + what + ": the superblock update took longer than "
                    + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms", e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Raid1Exception r) {
                throw new Raid1Exception(r.code(), array + ": " + what + ": " + r.getMessage(), r);
            }
            throw new Raid1Exception(Raid1Exception.Code.METADATA, array + ": " + what + ": " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, array + ": " + what + ": interrupted", e);
        }
    }

    @Override
    public String toString() {
        return "Raid1Array[" + name + " " + uuid + ", " + mirrors + "]";
    }
}
