package org.clustermd.raid1;

import java.io.IOException;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.UnaryOperator;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.raid1.io.IoAccounting;
import org.clustermd.raid1.resync.ResyncBarrier;
import org.clustermd.raid1.sb.Superblock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code struct mddev} with raid1's {@code r1conf} as the engine sees it: the parts of one
 * running array, wired at assembly ({@code md_run}), and the accessors through which
 * {@code Legs}, {@code SyncControl}, {@code SyncPass} and {@code MetadataUpdater} reach the rest.
 * {@link Raid1Array} is the public facade over it.
 *
 * <p>The constructor is the wiring: each part gets the parts it uses; the bitmap is read through
 * {@code () -> bitmap}, since it is opened only in {@link #start}.
 *
 * <p>Thread-safe: the parts are final and thread-safe themselves; the bitmap, its trust and the
 * cluster name are volatile, set once by {@link #start} before the array is shared.
 */
final class MddevCore {
    // logged under the array's name as before the split: log configurations name Raid1Array
    private static final Logger log = LoggerFactory.getLogger(Raid1Array.class);

    final String name;
    final UUID uuid;
    final ArrayOptions options;
    final ClusterOperations cluster;
    final LeaseHold leaseHold;
    final long ioWaitNanos;
    final int blockSize;
    /** md's array_sectors: what requests and syncs may reach; changed only by {@link SizeChange}. */
    private volatile long sizeSectors;

    final ArrayMetadata metadata;
    final List<KickedLeg> kicked;
    final Mirrors mirrors;
    final ResyncBarrier barrier = new ResyncBarrier();
    final IoAccounting accounting = new IoAccounting();
    final ReentrantLock reconfig = new ReentrantLock();
    final IoHolds holds;
    final Notifier notifier;
    final Fence fence;
    final ArrayStateMachine state;
    final MetadataUpdater updater;
    final SyncControl sync;
    final RequestGate gate;
    final SyncAttributes syncAttributes;
    final Legs legs;
    final PeerChanges peers;
    final SizeChange sizes;
    final WritePath writes;
    final ReadPath reads;
    final MdThread mdThread;
    final ExecutorService raid1d;
    final Submitter submitter;
    final AtomicBoolean closing = new AtomicBoolean();
    private volatile WriteIntentBitmap bitmap;
    private volatile boolean bitmapTrusted = true;
    private volatile String clusterName = "";

    MddevCore(Assembler.Assembly a, ArrayOptions options, ClusterOperations cluster, LeaseHold leaseHold) {
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
        this.fence = new Fence(name, () -> bitmap, this::stopIoForFence, notifier);
        boolean clustered = sb.hasFeature(Superblock.FEATURE_CLUSTERED) || cluster.isClustered();
        long safemode = clustered ? 0 : options.safemodeDelay().toNanos();
        this.raid1d = new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(), r -> {
            Thread t = new EngineThread(r, "raid1d-" + name);
            t.setUncaughtExceptionHandler((th, e) -> fence(FenceReason.CRITICAL_THREAD_FAILED, e));
            return t;
        });
        this.updater = new MetadataUpdater(this);
        this.state = new ArrayStateMachine(
                name, metadata, safemode, options.readOnly(), updater::request, this::notifyChange);
        this.sync = new SyncControl(this, reconfig, options.startFrozen());
        this.mirrors = new Mirrors(
                name,
                new MirrorSet(1, sb.raidDisks(), a.members()),
                () -> bitmap,
                fence::isFenced,
                this::notifyChange,
                sync,
                updater);
        this.gate = new RequestGate(
                name, blockSize, this::size, closing::get, fence::reasonOrNull, state, cluster, metadata, sync);
        this.holds = new IoHolds(name, barrier, state, fence::isFenced, gate::windowChanged, ioWaitNanos);
        this.syncAttributes = new SyncAttributes(name, sync, cluster, metadata, mirrors, closing::get);
        this.legs = new Legs(this);
        this.sizes = new SizeChange(this);
        this.peers = new PeerChanges(this, legs, sizes);
        this.writes =
                new WritePath(name, gate, state, barrier, accounting, mirrors, updater, () -> bitmap, ioWaitNanos);
        this.reads = new ReadPath(name, gate, barrier, accounting, mirrors, raid1d, ioWaitNanos);
        this.mdThread = new MdThread(name, this::mdCheck, this::fence);
        this.submitter = new Submitter(name, this::fence);
        leaseHold.attach(fence);
    }

    /**
     * md_run after the wiring: the bitmap area read, the cluster joined (as {@code array}), this
     * node's bitmap slot loaded, and the md thread started, which begins any resync or recovery
     * the legs need.
     */
    void start(Mddev array) throws Raid1Exception {
        BitmapArea area = BitmapLoad.readArea(name, metadata.template(), mirrors);
        int nodes = 1;
        if (area != null) {
            nodes = area.superblock().slots();
            clusterName = area.superblock().clusterName();
        }
        cluster.join(array, nodes);
        if (area != null) {
            BitmapLoad.Loaded loaded =
                    BitmapLoad.open(name, area, cluster.slotNumber(), mirrors.current(), metadata, options);
            bitmapTrusted = loaded.trusted();
            bitmap = loaded.bitmap();
            // our bitmap lock is held since join: nobody else writes our slot (docs/lessons.md §57)
            if (cluster.isClustered()) mirrors.fillSkippedSlot(cluster.slotNumber());
        }
        cluster.loadBitmaps(bitmap);
        mdThread.start();
        state.started();
        if (!kicked.isEmpty()) updater.request("legs kicked at assembly");
        sync.requestRecovery();
        log.info(
                "{}: assembled, {} ({} kicked), events {}, {}",
                name,
                mirrors,
                kicked.size(),
                metadata.events(),
                bitmap != null ? bitmap : "no bitmap");
    }

    /** The fence's I/O stop: the sync interrupted, requests suspended and their waiters woken. */
    private void stopIoForFence() {
        sync.interruptForError();
        state.suspended(true);
        gate.windowChanged();
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

    // ------------------------------------------------------------------ engine internals

    String name() {
        return name;
    }

    UUID uuid() {
        return uuid;
    }

    String clusterName() {
        return clusterName;
    }

    long size() {
        return sizeSectors * BlockDevice.SECTOR_SIZE;
    }

    long sizeSectors() {
        return sizeSectors;
    }

    /** Sets array_sectors (SizeChange only, once every node's bitmap covers it). */
    void sizeSectors(long sectors) {
        this.sizeSectors = sectors;
    }

    int logicalBlockSize() {
        return blockSize;
    }

    MirrorSet mirrors() {
        return mirrors.current();
    }

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
        return fence.isFenced();
    }

    /** See {@link Fence#fence}. */
    void fence(FenceReason reason, Throwable cause) {
        fence.fence(reason, cause);
    }

    LeaseHold leaseHold() {
        return leaseHold;
    }

    /** True while I/O is held for the cluster session ({@link Mddev#holdForSession}). */
    boolean sessionHeld() {
        return holds.sessionHeld();
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
        mirrors.admitToBitmap(leg, makeTarget, cluster().peerSlots());
    }

    @Override
    public String toString() {
        return "MddevCore[" + name + " " + uuid + ", " + mirrors + "]";
    }
}
