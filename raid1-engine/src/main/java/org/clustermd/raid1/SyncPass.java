package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.clustermd.bitmap.SyncChunk;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.HugePageBuffers;
import org.clustermd.raid1.resync.ResyncBarrier;
import org.clustermd.raid1.resync.SyncThrottle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One pass of the sync thread: md's {@code md_do_sync} loop driving raid1's
 * {@code raid1_sync_request} / {@code sync_request_write} / {@code process_checks}.
 *
 * <p>The loop (on {@code resync-<array>}): take the cluster's resync lock; then, chunk by
 * chunk, ask the bitmap whether the chunk needs work ({@code startSync}; skipped chunks cost
 * nothing), announce the 32 MiB cluster window before touching a new one
 * ({@code resyncInfoUpdate}, e.2), ask the {@link SyncThrottle} (sleep above sync_speed_max,
 * yield to foreground I/O between the limits), checkpoint progress into the superblocks, pause
 * at sync_max, and issue a request of up to one barrier unit: raise the barrier, read, write or
 * compare, lower it. Up to {@code syncDepth} requests are in flight; completions run on the
 * legs' threads and never block.
 *
 * <ul>
 *   <li>resync: read the first in-sync leg that can, write every other in-sync leg;</li>
 *   <li>recover: read an in-sync leg, write the REBUILDING legs (only bitmap-NEEDED chunks below
 *       a leg's {@code fullSyncFrom});</li>
 *   <li>check: read every in-sync leg, count the sectors of each 4 KiB page that differs;</li>
 *   <li>repair: as check, and write the first leg's data to the legs that differ.</li>
 * </ul>
 *
 * <p>Thread-safe where it must be: progress fields are read by any thread; the loop is the sync
 * thread's; completion callbacks touch only atomics and concurrent collections.
 */
final class SyncPass implements Runnable {
    private static final Logger log = LoggerFactory.getLogger(SyncPass.class);
    /** md-cluster's RAID1 window: 32 MiB. */
    static final long CLUSTER_WINDOW = 65536;

    private static final long YIELD_CAP_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final long YIELD_POLL_NANOS = 50_000;
    private static final long YIELD_IDLE_NANOS = TimeUnit.MILLISECONDS.toNanos(1);

    private final MddevCore array;
    private final SyncControl control;
    private final SyncAction action;
    private final ResyncBarrier barrier;
    private final SyncThrottle throttle;
    private final int block;
    private final int depth;
    private final int yieldRequests;
    private final long checkpointSectors;
    private final long checkpointNanos;
    private final Semaphore permits;
    private final ConcurrentLinkedQueue<ByteBuffer[]> buffers = new ConcurrentLinkedQueue<>();
    private final SectorsInFlight inFlight = new SectorsInFlight();

    private volatile boolean stop;
    private volatile boolean refusedByCluster;
    private volatile String failure;
    private volatile long startSector;
    private volatile long maxSector;
    private volatile long issuedEnd;
    /** The lowest sector of a request that failed (not copied): progress never passes it. */
    private final AtomicLong failedAt = new AtomicLong(Long.MAX_VALUE);

    private final AtomicLong copied = new AtomicLong();
    private final AtomicLong checked = new AtomicLong();
    private final AtomicLong mismatches = new AtomicLong();
    private volatile boolean bitmapUsed;
    /** A leg this pass wrote to failed: no chunk of the pass may be ended as synced. */
    private volatile boolean targetFailed;

    private volatile boolean resyncLocked;
    private volatile SyncReport report;
    private volatile List<Integer> targetDevs = List.of();
    /** Sectors of I/O the pass submitted (sync thread only), and how many the throttle has seen. */
    private long submittedIo;

    private long accounted;
    private long lastForeground = -1;

    SyncPass(MddevCore array, SyncControl control, SyncAction action) {
        this.array = array;
        this.control = control;
        this.action = action;
        this.barrier = array.barrier();
        this.throttle = control.throttle();
        ArrayOptions o = array.options();
        this.block = o.syncBlockSectors();
        this.depth = o.syncDepth();
        this.yieldRequests = o.syncYieldRequests();
        long cs = o.checkpointSectors();
        this.checkpointSectors = cs;
        this.checkpointNanos = o.checkpointInterval().toNanos();
        this.permits = new Semaphore(depth);
    }

    SyncAction action() {
        return action;
    }

    /** md_do_sync's MD_RECOVERY_INTR: stop at the next step; in-flight requests finish. */
    void interrupt() {
        stop = true;
        barrier.interruptResync();
    }

    boolean resyncLocked() {
        return resyncLocked;
    }

    SyncReport report() {
        return report;
    }

    /** The REBUILDING legs this recovery pass writes (dev_numbers). */
    List<Integer> targets() {
        return targetDevs;
    }

    /** Sectors below which every request of this pass has completed. */
    long completedUpTo() {
        long issued = issuedEnd;
        long done = Math.min(inFlight.lowest(issued), issued);
        return Math.min(done, failedAt.get());
    }

    long maxSector() {
        return maxSector;
    }

    long startSector() {
        return startSector;
    }

    /** True when the pass stopped because the lock manager refused it (tried again later, not a failure). */
    boolean refusedByCluster() {
        return refusedByCluster;
    }

    long mismatchesSoFar() {
        return mismatches.get();
    }

    @Override
    public void run() {
        long t0 = System.nanoTime();
        boolean completed = false;
        try {
            try {
                array.cluster().resyncStart();
                resyncLocked = true;
            } catch (InterruptedException e) {
                stop = true;
            }
            if (!stop) {
                array.cluster().resyncStartNotify();
                completed = runLoop();
            }
        } catch (Raid1Exception e) {
            if (e.code() == Raid1Exception.Code.CLUSTER) {
                // the lock manager refused (its session in doubt): md's resync_start failing
                // skips the pass, and the next md_check_recovery tries again. Not a failure: a
                // failure stops syncs for good, and a dead node's bits would never be resynced (docs/lessons.md §37)
                stop = true;
                refusedByCluster = true;
                log.warn(
                        "{}: {} interrupted by the cluster, retried when the session is back: {}",
                        array.name(),
                        action,
                        e.getMessage());
            } else {
                failure = e.getMessage();
                log.warn("{}: {} stopped: {}", array.name(), action, e.getMessage());
            }
        } catch (InterruptedException e) {
            stop = true;
        } finally {
            drainQuietly();
            finishBitmap(completed && !stop && failure == null);
            long end = completed ? maxSector : completedUpTo();
            report = new SyncReport(
                    action,
                    startSector,
                    end,
                    completed && failure == null,
                    copied.get(),
                    checked.get(),
                    mismatches.get(),
                    System.nanoTime() - t0,
                    failure);
        }
    }

    /** @return whether the whole range was covered */
    private boolean runLoop() throws Raid1Exception, InterruptedException {
        WriteIntentBitmap bitmap = array.bitmapOrNull();
        MirrorSet set = array.mirrors();
        long size = array.sizeSectors();
        long start;
        switch (action) {
            case RESYNC -> {
                // md_do_sync starts a resync at recovery_cp only without a bitmap. With one, the
                // bitmap is the checkpoint: chunks synced before an interruption were cleared, and
                // the chunk that was in progress is redone from its start, because a write torn by
                // a crash below recovery_cp but inside that chunk set the same bit and may differ
                // between the legs.
                start = array.metadata().recoveryCp();
                if (bitmap != null && array.bitmapTrusted()) {
                    long n = bitmap.nextNeeded(0);
                    if (n >= 0) start = Math.min(start, n);
                }
                start = Math.min(start, size);
            }
            case RECOVER -> {
                start = size;
                List<Integer> devs = new ArrayList<>();
                for (Mirror m : set.inState(MirrorState.REBUILDING)) {
                    start = Math.min(start, m.recoveryOffset());
                    devs.add(m.devNumber());
                }
                targetDevs = List.copyOf(devs);
            }
            default -> start = Math.min(control.syncMin(), size);
        }
        startSector = start;
        maxSector = size;
        issuedEnd = start;
        bitmapUsed =
                bitmap != null && action != SyncAction.CHECK && (action != SyncAction.RESYNC || array.bitmapTrusted());
        int legs = Math.max(1, set.inSyncArray().length);
        int n = action == SyncAction.CHECK || action == SyncAction.REPAIR ? legs : 1;
        // on huge pages: a block up to 1 MiB is then one segment per request, not ~250 scattered
        // pages that split it and fill a small device queue (docs/lessons.md §70)
        ByteBuffer[] region = HugePageBuffers.allocate(depth * n, block * BlockDevice.SECTOR_SIZE);
        for (int i = 0; i < depth; i++) {
            buffers.add(Arrays.copyOfRange(region, i * n, (i + 1) * n));
        }
        throttle.reset();
        log.info("{}: {} of sectors [{}, {}) started", array.name(), action, start, size);

        long pos = start;
        long windowHigh = 0;
        long lastCheckpoint = pos;
        long nextCheckpointAt = System.nanoTime() + checkpointNanos;
        while (pos < size && !stop && failure == null) {
            pos = waitBelowSyncMax(pos);
            if (stop) break;
            set = array.mirrors();
            boolean stillDegraded = action == SyncAction.RECOVER ? set.missingRoles() > 0 : set.degraded() > 0;
            long chunkEnd;
            boolean needed;
            if (bitmapUsed) {
                SyncChunk c = bitmap.startSync(pos, stillDegraded);
                chunkEnd = Math.min(size, pos + c.sectors());
                needed = c.needsSync() || action == SyncAction.REPAIR || !array.bitmapTrusted();
            } else {
                chunkEnd = Math.min(size, (pos / block + 1) * block);
                needed = true;
            }
            while (pos < chunkEnd && !stop && failure == null) {
                long len = Math.min(Math.min(chunkEnd - pos, block - pos % block), ResyncBarrier.unitEnd(pos) - pos);
                long limit = control.syncMax();
                if (limit <= pos) break; // paused at sync_max: the outer loop waits
                len = Math.min(len, limit - pos);
                List<Mirror> targets = targetsFor(set, pos, needed);
                if (targets == null) { // nothing to do for this part of the chunk
                    pos += len;
                    issuedEnd = Math.max(issuedEnd, pos);
                    continue;
                }
                if (pos + len > windowHigh) windowHigh = moveWindow(pos, len, size);
                throttle();
                if (checkpointDue(pos, lastCheckpoint) || System.nanoTime() - nextCheckpointAt >= 0) {
                    checkpoint();
                    lastCheckpoint = pos;
                    nextCheckpointAt = System.nanoTime() + checkpointNanos;
                }
                // a chunk the bitmap marks NEEDED may differ on any leg: recovery writes it to all of them
                boolean everyLeg =
                        action == SyncAction.RESYNC || (action == SyncAction.RECOVER && needed && bitmapUsed);
                if (!submit(pos, len, targets, everyLeg)) break;
                pos += len;
            }
            if (!stop) issuedEnd = Math.max(issuedEnd, pos);
        }
        drain();
        return pos >= size && !stop && failure == null;
    }

    /**
     * The legs a request at {@code pos} writes (empty for check), or null when there is nothing
     * to do there.
     */
    private List<Mirror> targetsFor(MirrorSet set, long pos, boolean needed) {
        Mirror[] good = set.inSyncArray();
        switch (action) {
            case RESYNC -> {
                if (!needed || good.length < 2) return null;
                return List.of();
            }
            case RECOVER -> {
                List<Mirror> out = new ArrayList<>();
                for (Mirror m : set.writeTargetArray()) {
                    if (m.state() != MirrorState.REBUILDING || !targetDevs.contains(m.devNumber())) continue;
                    if (pos + 1 <= m.recoveryOffset()) continue;
                    if (needed || pos >= m.fullSyncFrom()) out.add(m);
                }
                if (out.isEmpty()) {
                    if (set.inState(MirrorState.REBUILDING).stream()
                            .noneMatch(m -> targetDevs.contains(m.devNumber()))) {
                        failure = "no leg left to recover";
                    }
                    return null;
                }
                if (good.length == 0) {
                    failure = "no in-sync leg to recover from";
                    return null;
                }
                return out;
            }
            default -> {
                if (good.length < 2) {
                    if (good.length == 0) failure = "no in-sync leg";
                    return null;
                }
                return List.of();
            }
        }
    }

    // ------------------------------------------------------------------ loop helpers

    private long waitBelowSyncMax(long pos) throws InterruptedException {
        while (!stop && pos >= control.syncMax()) {
            drain();
            control.awaitSyncMaxAbove(pos, TimeUnit.MILLISECONDS.toNanos(200));
        }
        return pos;
    }

    private long moveWindow(long pos, long len, long size) throws Raid1Exception, InterruptedException {
        long low = completedUpTo();
        if (pos + len > low + CLUSTER_WINDOW) {
            drain();
            low = pos;
        }
        long high = Math.min(size, low + CLUSTER_WINDOW);
        // the peers stop writing in [low, high) before we touch it (md-cluster e.2)
        array.cluster().resyncInfoUpdate(low, high);
        return high;
    }

    private void throttle() throws InterruptedException {
        boolean peersBusy = array.cluster().peersBusy();
        // under a busy peer one request at a time, so that its writes meet at most one of ours
        // (docs/md-cluster-protocol.md §e.9)
        if (peersBusy) drain();
        // counted at submission, as md counts io_sectors: counted at completion, a whole pipeline
        // went out before the speed showed it, and a short pass ignored sync_speed_max (lessons §68)
        throttle.account(submittedIo - accounted);
        accounted = submittedIo;
        for (; ; ) {
            long started = array.requestsStarted();
            boolean idle = started == lastForeground && array.accounting().inFlight() == 0;
            lastForeground = started;
            switch (throttle.decide(idle, peersBusy)) {
                case GO -> {
                    return;
                }
                case SLEEP -> {
                    sleep(throttle.sleepNanos());
                    peersBusy = peersBusy && array.cluster().peersBusy(); // drained already
                }
                case YIELD -> {
                    // md's throttling rule (docs/lessons.md §24): wait for what is pending, not for a target speed
                    drain();
                    yieldToForeground(started);
                    return;
                }
            }
            if (stop) return;
        }
    }

    /**
     * The yield: waits until every foreground request started before the call completed (md's
     * throttling rule, docs/lessons.md §24), and then until {@code syncYieldRequests} more have, or the foreground went
     * idle, or {@link #YIELD_CAP_NANOS} passed. A foreground request can only be slowed by the
     * one resync request issued after the yield, so about one in {@code syncYieldRequests} is:
     * without the second wait a QD1 writer met a 1 MiB resync write on nearly every request and
     * its p99 grew 14-fold (P12). The cap and sync_speed_min keep the resync from starving.
     */
    private void yieldToForeground(long startedBefore) {
        long now = System.nanoTime();
        long deadline = now + YIELD_CAP_NANOS;
        long target = -1;
        long lastStarted = -1;
        long lastBusy = now;
        while (!stop && now - deadline < 0) {
            long started = array.requestsStarted();
            long inFlight = array.accounting().inFlight();
            long completed = started - inFlight;
            if (target < 0 && completed >= startedBefore) {
                if (yieldRequests == 0) return;
                target = completed + yieldRequests;
            }
            if (target >= 0 && completed >= target) return;
            // idle: nothing in flight and nothing started for a while (a writer's think time or a
            // descheduled thread is shorter than that far more often than not)
            if (inFlight > 0 || started != lastStarted) lastBusy = now;
            else if (now - lastBusy >= YIELD_IDLE_NANOS) return;
            lastStarted = started;
            LockSupport.parkNanos(YIELD_POLL_NANOS);
            now = System.nanoTime();
        }
    }

    private void sleep(long nanos) throws InterruptedException {
        long deadline = System.nanoTime() + nanos;
        while (!stop) {
            long left = deadline - System.nanoTime();
            if (left <= 0) return;
            TimeUnit.NANOSECONDS.sleep(Math.min(left, TimeUnit.MILLISECONDS.toNanos(20)));
        }
    }

    /**
     * The distance rule of md_do_sync's curr_resync_completed update: at least half of what was
     * left up to sync_max has been done since the last checkpoint (so with sync_max at "max",
     * only the interval applies, as in md), or {@code checkpointSectors} when one is set. A
     * checkpoint drains the pipeline and writes every superblock with FUA: checkpoints every 1/16
     * of the array cut the full resync rate to about 0.7 of a plain copy (P9).
     */
    private boolean checkpointDue(long pos, long lastCheckpoint) {
        if (checkpointSectors > 0) return pos - lastCheckpoint >= checkpointSectors;
        long limit = control.syncMax();
        return limit != Long.MAX_VALUE && (pos - lastCheckpoint) * 2 >= limit - lastCheckpoint;
    }

    /** md's periodic curr_resync_completed update: progress into the superblocks. */
    private void checkpoint() throws InterruptedException {
        drain();
        long done = completedUpTo();
        WriteIntentBitmap bitmap = array.bitmapOrNull();
        if (targetFailed) return;
        if (bitmapUsed && bitmap != null && done > 0) bitmap.condEndSync(done, true);
        control.checkpoint(this, done);
    }

    /** Waits until no request of this pass is in flight. */
    private void drain() throws InterruptedException {
        permits.acquire(depth);
        permits.release(depth);
    }

    private void drainQuietly() {
        boolean interrupted = false;
        for (; ; ) {
            try {
                drain();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) Thread.currentThread().interrupt();
    }

    private void finishBitmap(boolean completed) {
        WriteIntentBitmap bitmap = array.bitmapOrNull();
        if (!bitmapUsed || bitmap == null) return;
        if (completed && !targetFailed) {
            bitmap.closeSync();
            return;
        }
        // chunks wholly below the completed point are synced, unless a leg we wrote failed (then
        // none is proven); the chunk there and any started beyond it are not (md_bitmap_end_sync
        // with aborted): they become NEEDED again
        long done = completedUpTo();
        if (!targetFailed && done > 0) bitmap.condEndSync(done, true);
        long size = array.sizeSectors();
        long from = targetFailed ? startSector : done;
        long to = Math.min(Math.max(issuedEnd, done + 1), size);
        for (long x = from; x < to; ) x += Math.max(1, bitmap.endSync(x, true));
    }

    // ------------------------------------------------------------------ one request

    private boolean submit(long pos, long len, List<Mirror> targets, boolean everyLeg) throws InterruptedException {
        permits.acquire();
        boolean raised;
        try {
            raised = barrier.raiseBarrier(pos);
        } catch (InterruptedException e) {
            permits.release();
            throw e;
        }
        if (!raised) {
            permits.release();
            stop = true;
            return false;
        }
        inFlight.add(pos);
        issuedEnd = Math.max(issuedEnd, pos + len);
        ByteBuffer[] slot = buffers.poll();
        SyncRequest r = new SyncRequest(this, action, pos, len, slot, targets, everyLeg, array.mirrors());
        submittedIo += r.ioSectors();
        try {
            r.start();
        } catch (RuntimeException e) {
            r.failed("request failed to start: " + e);
        }
        return true;
    }

    // ------------------------------------------------------------------ what a request reports (completion threads)

    String name() {
        return array.name();
    }

    void countChecked(long sectors) {
        checked.addAndGet(sectors);
    }

    void countMismatches(long sectors) {
        mismatches.addAndGet(sectors);
    }

    /** Some target took a request's write. */
    void countCopied(long sectors) {
        copied.addAndGet(sectors);
    }

    /** A target's write of a request at {@code pos} failed: the leg is failed. */
    void writeFailed(Mirror m, long pos, Throwable t) {
        targetFailed = true;
        m.leg().errors.incrementAndGet();
        IOException e = MirroredWrite.asIo(t);
        log.warn("{}: sync write of sector {} failed on {}: {}", array.name(), pos, m.name(), e.getMessage());
        array.legFailed(m, e);
    }

    /** A request at {@code pos} did not do its work: the pass stops, and its progress stays below {@code pos}. */
    void requestFailed(long pos, String why) {
        failedAt.accumulateAndGet(pos, Math::min);
        if (failure == null) failure = why;
        stop = true;
    }

    /** A request at {@code pos} is over: its barrier, range and buffers slot are released. */
    void requestEnded(long pos, ByteBuffer[] slot) {
        barrier.lowerBarrier(pos);
        inFlight.remove(pos);
        if (slot != null) buffers.add(slot);
        permits.release();
    }
}
