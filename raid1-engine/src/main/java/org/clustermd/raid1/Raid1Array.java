package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
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
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapOptions;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
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
    private final Object mirrorsLock = new Object();
    private volatile MirrorSet mirrors;
    private final ResyncBarrier barrier = new ResyncBarrier();
    private final IoAccounting accounting = new IoAccounting();
    private final AtomicLong requestsStarted = new AtomicLong();
    /** Legs failed here so far, and how many of those the superblocks on the legs record. */
    private final AtomicLong failuresMarked = new AtomicLong();
    private final AtomicLong failuresRecorded = new AtomicLong();
    private final ReentrantLock reconfig = new ReentrantLock();
    private final ReentrantLock suspendLock = new ReentrantLock();
    /** What holds I/O besides the resync barrier's own users; the monitor guards both counts. */
    private final Holds holds = new Holds();
    private final Condition suspendChanged = suspendLock.newCondition();
    private final Notifier notifier;
    private final ArrayStateMachine state;
    private final MetadataUpdater updater;
    private final SyncControl sync;
    private final Legs legs;
    private final WritePath writes;
    private final ReadPath reads;
    private final MdThread mdThread;
    private final ExecutorService raid1d;
    private final ThreadPoolExecutor submitter;
    private final AtomicBoolean closing = new AtomicBoolean();
    private volatile FenceReason fenced;
    private volatile WriteIntentBitmap bitmap;
    private volatile LegBitmapStorage bitmapStorage;
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
        this.mirrors = new MirrorSet(1, sb.raidDisks(), a.members());
        this.notifier = new Notifier(name);
        boolean clustered = sb.hasFeature(Superblock.FEATURE_CLUSTERED) || cluster.isClustered();
        long safemode = clustered ? 0 : options.safemodeDelay().toNanos();
        this.updater = new MetadataUpdater(this);
        this.state = new ArrayStateMachine(name, metadata, safemode, options.readOnly(), updater::request, this::notifyChange);
        this.sync = new SyncControl(this, reconfig, options.startFrozen());
        this.legs = new Legs(this);
        this.writes = new WritePath(this);
        this.reads = new ReadPath(this);
        this.mdThread = new MdThread(this);
        this.raid1d = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new EngineThread(r, "raid1d-" + name);
            t.setUncaughtExceptionHandler((th, e) -> fence(FenceReason.CRITICAL_THREAD_FAILED, e));
            return t;
        });
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
            bitmapStorage = new LegBitmapStorage(name + " bitmap", areaStart, areaSize, this::mirrors, this::legFailed);
            try {
                area = BitmapArea.read(bitmapStorage);
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
        MirrorSet set = mirrors;
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
            WriteIntentBitmap b = WriteIntentBitmap.open(bitmapStorage, slot, BitmapOptions.builder()
                    .name(name)
                    .clock(options.bitmapClock())
                    .startDaemon(options.bitmapDaemon())
                    .recoveryOffset(load)
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
        for (Mirror m : mirrors.mirrors()) Assembler.closeQuietly(m.leg().device);
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

    /** md's recovery_cp: everything below is known in sync; {@code Long.MAX_VALUE} when clean. */
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
        return mirrors;
    }

    /** md's degraded: roles without an in-sync leg. */
    public int degraded() {
        return mirrors.degraded();
    }

    /** md's sync_action. */
    public SyncAction syncAction() {
        return sync.action();
    }

    /**
     * Writes sync_action (md's words: {@link SyncAction#parse}).
     *
     * @throws Raid1Exception BUSY when a pass runs and another is asked for; INVALID when it
     *     cannot apply (check with one leg)
     */
    public void syncAction(SyncAction action) throws Raid1Exception {
        checkOpen();
        sync.setAction(action);
    }

    /**
     * What /proc/mdstat would show: idle, resync, recovery, check, repair, resync=PENDING,
     * resync=REMOTE, recover=REMOTE (md-cluster-protocol.md e.7).
     */
    public String syncStatus() {
        Optional<SyncPass> p = sync.running();
        if (p.isPresent()) {
            return switch (p.get().action()) {
                case RECOVER -> "recovery";
                case RESYNC -> "resync";
                case CHECK -> "check";
                case REPAIR -> "repair";
                default -> "idle";
            };
        }
        boolean remote = cluster.resyncingRemote();
        if (!mirrors.inState(MirrorState.REBUILDING).isEmpty() && remote) return "recover=REMOTE";
        if (metadata.recoveryCp() < ArrayMetadata.MAX) return remote ? "resync=REMOTE" : "resync=PENDING";
        return "idle";
    }

    /** md's sync_completed: "done / total" sectors of the running pass, or "none". */
    public String syncCompleted() {
        Optional<SyncPass> p = sync.running();
        if (p.isEmpty() || p.get().maxSector() == 0) return "none";
        return p.get().completedUpTo() + " / " + p.get().maxSector();
    }

    /** md's sync_speed, KiB/s, of the running pass (0 when none runs). */
    public long syncSpeed() {
        return sync.running().isPresent() ? sync.throttle().currentSpeed() : 0;
    }

    public long syncSpeedMin() {
        return sync.throttle().speedMin();
    }

    /** Sets sync_speed_min (KiB/s). */
    public void syncSpeedMin(long kib) throws Raid1Exception {
        try {
            sync.throttle().speedMin(kib);
        } catch (IllegalArgumentException e) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, name + ": " + e.getMessage());
        }
    }

    public long syncSpeedMax() {
        return sync.throttle().speedMax();
    }

    /** Sets sync_speed_max (KiB/s). */
    public void syncSpeedMax(long kib) throws Raid1Exception {
        try {
            sync.throttle().speedMax(kib);
        } catch (IllegalArgumentException e) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, name + ": " + e.getMessage());
        }
    }

    /** md's sync_min, sectors: where check and repair start. */
    public long syncMin() {
        return sync.syncMin();
    }

    /** Sets sync_min; rounded down to 4 KiB, so every 4 KiB-aligned value reads back unchanged. */
    public void syncMin(long sectors) throws Raid1Exception {
        sync.syncMin(sectors);
    }

    /** md's sync_max, sectors ({@code Long.MAX_VALUE}: "max"): a running pass pauses there. */
    public long syncMax() {
        return sync.syncMax();
    }

    public void syncMax(long sectors) throws Raid1Exception {
        sync.syncMax(sectors);
    }

    /** md's mismatch_cnt: sectors found different by the last (or running) check or repair. */
    public long mismatchCount() {
        return sync.mismatchCnt();
    }

    /** The report of the last finished sync pass. */
    public Optional<SyncReport> lastSync() {
        return sync.last();
    }

    /**
     * Waits until no sync pass runs and none is about to start (or sync_action is frozen), and
     * returns the last pass's report.
     *
     * @throws Raid1Exception TIMEOUT
     */
    public Optional<SyncReport> awaitSyncIdle(Duration timeout) throws Raid1Exception {
        return sync.awaitIdle(timeout);
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

    /** md's "faulty" / mdadm --fail. Refused (BUSY) for the last in-sync leg. */
    public void failDevice(String leg) throws Raid1Exception {
        checkOpen();
        legs.fail(leg);
    }

    /** mdadm --remove: only a faulty or spare leg. The device is closed. */
    public void removeDevice(String leg) throws Raid1Exception {
        checkOpen();
        legs.remove(leg);
    }

    /** mdadm --add of a new device: it becomes a spare; a missing role gets it (full recovery). */
    public void addDevice(BlockDevice device) throws Raid1Exception {
        checkOpen();
        legs.add(device);
    }

    /** md's "re-add" of a faulty member: the bitmap decides how much it must recover. */
    public void reAddDevice(String leg) throws Raid1Exception {
        checkOpen();
        legs.reAdd(leg);
    }

    /** mdadm --re-add of a leg that is no longer a member (removed, or kicked at assembly). */
    public void reAddDevice(BlockDevice device) throws Raid1Exception {
        checkOpen();
        legs.reAdd(device);
    }

    /** Sets or clears write-mostly on a leg. */
    public void writeMostly(String leg, boolean on) throws Raid1Exception {
        checkOpen();
        legs.writeMostly(leg, on);
    }

    /**
     * Writes md's dev-X/state with md's words: faulty, remove, re-add, writemostly,
     * -writemostly, idle (no-op).
     *
     * @throws Raid1Exception INVALID for any other word (never ignored silently, lesson 23)
     */
    public void deviceState(String leg, String word) throws Raid1Exception {
        switch (word.trim()) {
            case "faulty" -> failDevice(leg);
            case "remove" -> removeDevice(leg);
            case "re-add" -> reAddDevice(leg);
            case "writemostly" -> writeMostly(leg, true);
            case "-writemostly" -> writeMostly(leg, false);
            case "idle" -> checkOpen();
            default -> throw new Raid1Exception(Raid1Exception.Code.INVALID, name + ": '" + word
                    + "' is not a device state command (faulty, remove, re-add, writemostly, -writemostly, idle)");
        }
    }

    // ------------------------------------------------------------------ Mddev (cluster callbacks)

    @Override
    public void quiesce() throws Raid1Exception {
        try {
            barrier.freeze(0, ioWaitNanos);
        } catch (TimeoutException | InterruptedException e) {
            barrier.unfreeze();
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, name + ": I/O did not drain for quiesce: " + e.getMessage(), e);
        }
        synchronized (holds) {
            holds.quiesces++;
            showSuspended();
        }
    }

    @Override
    public void unquiesce() {
        synchronized (holds) {
            if (holds.quiesces == 0) {
                log.warn("{}: unquiesce without a quiesce: ignored (it never ends the session hold)", name);
                return;
            }
            holds.quiesces--;
            barrier.unfreeze();
            showSuspended();
        }
        suspendedRangeChanged();
    }

    @Override
    public boolean holdForSession() {
        synchronized (holds) {
            if (holds.session) return true;
            holds.session = true;
            barrier.block();
            showSuspended();
        }
        log.warn("{}: I/O held while the cluster session is in doubt", name);
        try {
            barrier.awaitDrained(0, ioWaitNanos);
            return true;
        } catch (TimeoutException e) {
            log.warn("{}: requests still in flight after the I/O wait ({}); new I/O stays held until the session is back",
                    name, e.getMessage());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Override
    public void releaseSessionHold() {
        synchronized (holds) {
            if (!holds.session) return;
            holds.session = false;
            barrier.unfreeze();
            showSuspended();
        }
        suspendedRangeChanged();
    }

    /** array_state reads suspended while any hold is on, and for good once fenced. Under {@code holds}. */
    private void showSuspended() {
        state.suspended(fenced != null || holds.quiesces > 0 || holds.session);
    }

    @Override
    public void suspendedRangeChanged() {
        suspendLock.lock();
        try {
            suspendChanged.signalAll();
        } finally {
            suspendLock.unlock();
        }
    }

    @Override
    public void reloadSuperblock(int devNumber) throws Raid1Exception {
        legs.reloadSuperblock(devNumber);
    }

    @Override
    public void requestRecovery() {
        sync.requestRecovery();
    }

    @Override
    public void lowerRecoveryCp(long sector) {
        if (metadata.lowerRecoveryCp(sector)) sync.requestRecovery();
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
        cluster.leave(metadata.recoveryCp() == ArrayMetadata.MAX);
        raid1d.shutdown();
        try {
            raid1d.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        leaseHold.close();
        for (Mirror m : mirrors.mirrors()) Assembler.closeQuietly(m.leg().device);
        state.closed();
        notifier.close();
        log.info("{}: stopped", name);
    }

    /**
     * Who froze the barrier from outside the data path: administrative quiesces (nesting) and
     * the cluster session's hold (one at most). Counted apart so that an unquiesce never ends
     * the session hold, nor a session release a quiesce (issue 11 item 6).
     */
    private static final class Holds {
        int quiesces;
        boolean session;
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

    ArrayStateMachine stateMachine() {
        return state;
    }

    MetadataUpdater updater() {
        return updater;
    }

    SyncControl sync() {
        return sync;
    }

    Legs legs() {
        return legs;
    }

    ExecutorService raid1d() {
        return raid1d;
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
        return requestsStarted.get();
    }

    void requestStarted() {
        requestsStarted.incrementAndGet();
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

    /** The state checks every request makes first; null when it may proceed. */
    Raid1Exception checkState(boolean write) {
        if (closing.get()) return new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": array is stopped");
        FenceReason f = fenced;
        if (f != null) return new Raid1Exception(Raid1Exception.Code.FENCED, name + ": array is fenced (" + f + ")");
        if (write && state.readOnly()) return new Raid1Exception(Raid1Exception.Code.READ_ONLY, name + ": array is read-only");
        return null;
    }

    Raid1Exception checkRange(long offset, long length, boolean write) {
        Raid1Exception s = checkState(write);
        if (s != null) return s;
        if (offset < 0 || length < 0 || offset > size() - length) {
            return new Raid1Exception(Raid1Exception.Code.OUT_OF_RANGE, name + ": [" + offset + ", +" + length
                    + ") is outside the array's " + size() + " bytes");
        }
        if (offset % blockSize != 0 || length % blockSize != 0) {
            return new Raid1Exception(Raid1Exception.Code.UNALIGNED, name + ": offset " + offset + " and length " + length
                    + " must be multiples of " + blockSize + " bytes");
        }
        return null;
    }

    Raid1Exception checkRequest(long offset, int length, ByteBuffer buf, boolean write) {
        if (buf == null) return new Raid1Exception(Raid1Exception.Code.BAD_BUFFER, name + ": null buffer");
        if (!write && buf.isReadOnly()) {
            return new Raid1Exception(Raid1Exception.Code.BAD_BUFFER, name + ": cannot read into a read-only buffer");
        }
        return checkRange(offset, length, write);
    }

    void checkNotFenced() throws Raid1Exception {
        Raid1Exception e = checkState(false);
        if (e != null) throw e;
    }

    /** The buffer the legs get: the caller's when it is direct and aligned, else a bounce copy. */
    ByteBuffer ioBuffer(ByteBuffer buf, boolean write) {
        if (buf.isDirect() && AlignedBuffers.isAligned(buf, blockSize)) return buf;
        ByteBuffer b = AlignedBuffers.allocate(buf.remaining());
        if (write) b.put(0, buf, buf.position(), buf.remaining());
        return b;
    }

    Raid1Exception requestFailure(String what, long sector, long sectors, Throwable e) {
        if (e instanceof Raid1Exception r) return r;
        if (e instanceof TimeoutException) {
            return new Raid1Exception(Raid1Exception.Code.TIMEOUT, name + ": " + what + " of " + sectors + " sectors at sector "
                    + sector + " waited too long: " + e.getMessage(), e);
        }
        if (e instanceof BitmapException) {
            return new Raid1Exception(Raid1Exception.Code.IO_ERROR, name + ": " + what + " at sector " + sector
                    + ": the bitmap could not be made durable on any in-sync leg: " + e.getMessage(), e);
        }
        return new Raid1Exception(Raid1Exception.Code.IO_ERROR, name + ": " + what + " at sector " + sector + " failed: " + e,
                e);
    }

    /** Whether another node resyncs the range now (areaResyncing(WRITE)); never waits. */
    boolean resyncingElsewhere(long sector, long sectors) {
        return cluster.areaResyncing(ClusterOperations.Direction.WRITE, sector, sector + sectors);
    }

    /** Waits, bounded, while another node resyncs the range (areaResyncing(WRITE)). */
    void waitWhileResyncing(long sector, long sectors) throws Raid1Exception {
        if (!cluster.areaResyncing(ClusterOperations.Direction.WRITE, sector, sector + sectors)) return;
        long deadline = System.nanoTime() + ioWaitNanos;
        suspendLock.lock();
        try {
            while (cluster.areaResyncing(ClusterOperations.Direction.WRITE, sector, sector + sectors)) {
                checkNotFenced();
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, name + ": sectors [" + sector + ", "
                            + (sector + sectors) + ") are being resynced by another node; the write waited "
                            + TimeUnit.NANOSECONDS.toMillis(ioWaitNanos) + " ms");
                }
                suspendChanged.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, name + ": interrupted while waiting for a resync window");
        } finally {
            suspendLock.unlock();
        }
    }

    /** Whether a read must go to the first in-sync leg (legs may differ there). */
    boolean readFirstLeg(long sector, long sectors) {
        if (cluster.areaResyncing(ClusterOperations.Direction.READ, sector, sector + sectors)) return true;
        long cp = metadata.recoveryCp();
        if (cp == ArrayMetadata.MAX) return false;
        Optional<SyncPass> p = sync.running();
        long known = cp;
        if (p.isPresent() && p.get().action() == SyncAction.RESYNC) known = Math.max(cp, p.get().completedUpTo());
        return sector + sectors > known;
    }

    /** Publishes a new MirrorSet (short lock, no I/O) and reports what changed. */
    MirrorSet publish(UnaryOperator<MirrorSet> change) {
        MirrorSet before;
        MirrorSet after;
        synchronized (mirrorsLock) {
            before = mirrors;
            after = change.apply(before);
            if (after == before) return before;
            WriteIntentBitmap b = bitmap;
            // lose a write target only after the bitmap knows (lesson 30); gain one before it forgets
            if (b != null && after.missingRoles() > 0) b.setDegraded(true);
            mirrors = after;
            if (b != null && after.missingRoles() == 0) b.setDegraded(false);
        }
        reportChanges(before, after);
        return after;
    }

    private void reportChanges(MirrorSet before, MirrorSet after) {
        Map<Integer, String> old = new HashMap<>();
        for (Mirror m : before.mirrors()) old.put(m.devNumber(), m.mdState());
        for (Mirror m : after.mirrors()) {
            String was = old.remove(m.devNumber());
            if (was == null) notifyChange(AttributeChange.device(m.name(), "", m.mdState()));
            else if (!was.equals(m.mdState())) notifyChange(AttributeChange.device(m.name(), was, m.mdState()));
        }
        for (Mirror m : before.mirrors()) {
            if (old.containsKey(m.devNumber())) notifyChange(AttributeChange.device(m.name(), old.get(m.devNumber()), "removed"));
        }
        if (before.degraded() != after.degraded()) {
            notifyChange(AttributeChange.array(AttributeChange.DEGRADED, before.degraded(), after.degraded()));
        }
    }

    /**
     * md_error for a leg: marks it FAULTY (never the last in-sync leg), interrupts a running
     * sync, and asks for the superblock update that records it.
     *
     * @return the future of that update, or null when the leg stays (last in-sync leg, or no
     *     longer a member)
     */
    CompletableFuture<Void> legFailed(Mirror m, IOException cause) {
        // a fenced array writes nothing more, so it records nothing; and a write the lease hold
        // never issued (NOT_ISSUED, only after the fence) says nothing about the leg
        if (fenced != null) return null;
        if (cause instanceof BlockDeviceException b && b.code() == BlockDeviceException.Code.NOT_ISSUED) return null;
        Mirror now = mirrors.byDevNumber(m.devNumber()).orElse(null);
        if (now == null || now.leg() != m.leg()) return null;
        if (now.state() != MirrorState.FAULTY) {
            boolean[] refused = {false};
            publish(set -> {
                Mirror cur = set.byDevNumber(m.devNumber()).orElse(null);
                if (cur == null || cur.state() == MirrorState.FAULTY) return set;
                if (cur.state() == MirrorState.IN_SYNC && set.inSyncArray().length == 1) {
                    refused[0] = true;
                    return set;
                }
                // counted before the set is published: a write that no longer reaches the leg sees it
                failuresMarked.incrementAndGet();
                return set.with(m.devNumber(), x -> x.withState(MirrorState.FAULTY, x.role()));
            });
            if (refused[0]) {
                log.error("{}: {} failed ({}) but it is the last in-sync leg: kept", name, m.name(), cause.getMessage());
                return null;
            }
            log.error("{}: {} failed: {}; continuing on {} legs", name, m.name(), cause.getMessage(),
                    mirrors.inSyncArray().length);
            sync.interruptForError();
            sync.requestRecovery();
        }
        return updater.request(m.name() + " failed");
    }

    /**
     * True while a leg failed here is not yet recorded as faulty on the remaining legs. A write
     * acknowledged meanwhile would exist only on legs the superblocks cannot yet tell apart from
     * the stale one (md blocks writes on MD_SB_CHANGE_PENDING for the same reason): completions
     * wait for the update that records it.
     */
    boolean failureUnrecorded() {
        return failuresRecorded.get() < failuresMarked.get();
    }

    long failuresMarked() {
        return failuresMarked.get();
    }

    /** A superblock update that began after {@code marked} failures succeeded. */
    void failuresRecorded(long marked) {
        failuresRecorded.accumulateAndGet(marked, Math::max);
    }

    /** A peer recorded the leg as faulty: fail it here without a superblock update of our own. */
    void markFaultyLocally(Mirror m, String why) {
        publish(set -> {
            Mirror cur = set.byDevNumber(m.devNumber()).orElse(null);
            if (cur == null || cur.state() == MirrorState.FAULTY) return set;
            return set.with(m.devNumber(), x -> x.withState(MirrorState.FAULTY, x.role()));
        });
        log.warn("{}: {} marked faulty: {}", name, m.name(), why);
        sync.interruptForError();
    }

    /** Makes {@code leg} a bitmap target (area copied first), publishing with {@code makeTarget}. */
    void admitToBitmap(Leg leg, Runnable makeTarget) throws IOException {
        LegBitmapStorage s = bitmapStorage;
        if (s == null || bitmap == null) {
            makeTarget.run();
            return;
        }
        s.admit(leg, makeTarget);
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
