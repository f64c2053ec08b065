package org.clustermd.raid1;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.resync.SyncThrottle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sync thread's lifecycle and md's recovery flags, decided under one lock (the array's
 * reconfig lock, md's {@code mddev_lock}; docs/lessons.md §21):
 *
 * <pre>
 *   IDLE --(md thread: work found, not frozen)--> RUNNING --(sync thread: pass over)--> DONE
 *     ^                                                                                  |
 *     +---------------------------(md thread or stopper: reap)--------------------------+
 * </pre>
 *
 * {@link ThreadState} is changed only by {@link #transition}, always under the lock; nobody looks
 * at the thread without the lock. A new thread is started only from IDLE, and DONE is reaped
 * (final superblock update, then {@code resyncFinish}) before anything else may start, so two
 * sync threads never run at once. Independent flags: {@code needed} (md's MD_RECOVERY_NEEDED,
 * set from anywhere without the lock, consumed by the md thread), {@code frozen}, and the
 * requested check/repair. Writing an action sets the new action before it clears FROZEN, under
 * the lock (docs/lessons.md §22).
 *
 * <p>Thread-safe.
 */
final class SyncControl {
    private static final Logger log = LoggerFactory.getLogger(SyncControl.class);

    /** The sync thread's lifecycle. */
    enum ThreadState {
        IDLE,
        RUNNING,
        DONE
    }

    private final MddevCore array;
    private final ReentrantLock lock;
    private final Condition changed;
    private final SyncThrottle throttle = new SyncThrottle(System::nanoTime);
    private final Object syncMaxMonitor = new Object();
    /** Sync threads alive right now, and the most ever seen at once (docs/lessons.md §21 says: one). */
    private final java.util.concurrent.atomic.AtomicInteger alive = new java.util.concurrent.atomic.AtomicInteger();

    private final java.util.concurrent.atomic.AtomicInteger mostAlive = new java.util.concurrent.atomic.AtomicInteger();
    private final java.util.concurrent.atomic.AtomicLong passes = new java.util.concurrent.atomic.AtomicLong();

    // guarded by lock
    private ThreadState state = ThreadState.IDLE;
    private boolean frozen;
    private SyncAction requested;
    private Thread thread;
    private SyncReport last;
    private long mismatchCnt;
    private boolean closing;
    /**
     * md's recovery_disabled: a pass failed for want of a readable source; starting it again at
     * once would only fail again (a livelock), so nothing starts by itself until an
     * administrator writes an action or a leg is added or re-added.
     */
    private String syncDisabled;
    /** When a pass the lock manager refused is tried again. Under the lock. */
    private final RefusalBackoff refusals = new RefusalBackoff();

    /** The running pass, readable without the lock (interrupt, progress). */
    private volatile SyncPass pass;

    private volatile boolean needed = true;
    private volatile long syncMin;
    private volatile long syncMax = Long.MAX_VALUE;

    SyncControl(MddevCore array, ReentrantLock reconfig, boolean startFrozen) {
        this.array = array;
        this.lock = reconfig;
        this.changed = reconfig.newCondition();
        this.frozen = startFrozen;
        throttle.speedMin(array.options().syncSpeedMin());
        throttle.speedMax(array.options().syncSpeedMax());
    }

    SyncThrottle throttle() {
        return throttle;
    }

    /** Under the lock: the one place the lifecycle moves. */
    private void transition(ThreadState from, ThreadState to) {
        if (!lock.isHeldByCurrentThread()) throw new IllegalStateException("sync lifecycle changed without the lock");
        if (state != from) throw new IllegalStateException("sync thread " + state + ", expected " + from + " -> " + to);
        SyncAction before = actionLocked();
        state = to;
        log.debug("{}: sync thread {} -> {}", array.name(), from, to);
        SyncAction after = actionLocked();
        if (before != after) array.notifyChange(AttributeChange.array(AttributeChange.SYNC_ACTION, before, after));
        changed.signalAll();
    }

    // ------------------------------------------------------------------ sync_action

    /** md's action_show. */
    SyncAction action() {
        lock.lock();
        try {
            return actionLocked();
        } finally {
            lock.unlock();
        }
    }

    private SyncAction actionLocked() {
        if (frozen) return SyncAction.FROZEN;
        SyncPass p = pass;
        if (state != ThreadState.IDLE && p != null) return p.action();
        return SyncAction.IDLE;
    }

    /**
     * md's action_store. frozen: interrupt and reap the pass, start nothing. idle: interrupt
     * and reap, then let md decide. resync/recover: let md decide now. check/repair: run that
     * pass over sync_min..sync_max.
     *
     * @throws Raid1Exception BUSY when a pass runs and check/repair/resync/recover is asked
     *     (md's EBUSY), TIMEOUT when a stopped pass did not end in time
     */
    void setAction(SyncAction a) throws Raid1Exception {
        long deadline = System.nanoTime() + array.ioWaitNanos();
        lock.lock();
        try {
            if (closing) throw new Raid1Exception(Raid1Exception.Code.CLOSED, array.name() + ": array is stopping");
            SyncAction before = actionLocked();
            if (a != SyncAction.FROZEN) syncDisabled = null;
            switch (a) {
                case FROZEN -> {
                    frozen = true;
                    stopAndReapLocked(deadline);
                }
                case IDLE -> {
                    stopAndReapLocked(deadline);
                    requested = null;
                    needed = true;
                    frozen = false;
                }
                case RESYNC, RECOVER -> {
                    if (state != ThreadState.IDLE) busy(a);
                    needed = true; // the new action first, then FROZEN goes (docs/lessons.md §22)
                    frozen = false;
                }
                case CHECK, REPAIR -> {
                    if (state != ThreadState.IDLE) busy(a);
                    if (array.mirrors().inSyncArray().length < 2) {
                        throw new Raid1Exception(
                                Raid1Exception.Code.INVALID,
                                array.name() + ": " + a + " needs at least two in-sync legs");
                    }
                    requested = a;
                    needed = true;
                    frozen = false;
                }
            }
            SyncAction after = actionLocked();
            if (before != after) array.notifyChange(AttributeChange.array(AttributeChange.SYNC_ACTION, before, after));
        } finally {
            lock.unlock();
        }
        array.wakeMdThread();
    }

    private void busy(SyncAction a) throws Raid1Exception {
        throw new Raid1Exception(
                Raid1Exception.Code.BUSY,
                array.name() + ": cannot start " + a + ": " + pass.action()
                        + " is running (write idle or frozen first)");
    }

    /** Under the lock: interrupts the running pass and reaps it here. */
    private void stopAndReapLocked(long deadline) throws Raid1Exception {
        SyncPass p = pass;
        if (p != null) p.interrupt();
        if (thread != null) thread.interrupt();
        while (state == ThreadState.RUNNING) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new Raid1Exception(
                        Raid1Exception.Code.TIMEOUT, array.name() + ": the sync thread did not stop in time");
            }
            try {
                changed.awaitNanos(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new Raid1Exception(
                        Raid1Exception.Code.TIMEOUT, array.name() + ": interrupted while stopping the sync");
            }
        }
        if (state == ThreadState.DONE) reapLocked();
    }

    // ------------------------------------------------------------------ md thread

    /** md's MD_RECOVERY_NEEDED: look for work at the next md thread pass. Lock-free. */
    void requestRecovery() {
        needed = true;
        array.wakeMdThread();
    }

    /** A leg was added or re-added: syncs may start by themselves again (md bumps recovery_disabled). */
    void enableSync() {
        lock.lock();
        try {
            syncDisabled = null;
        } finally {
            lock.unlock();
        }
        requestRecovery();
    }

    /** Why syncs no longer start by themselves, if they do not. */
    Optional<String> syncDisabled() {
        lock.lock();
        try {
            return Optional.ofNullable(syncDisabled);
        } finally {
            lock.unlock();
        }
    }

    /** A leg failed: md_error sets MD_RECOVERY_INTR. Lock-free (called from I/O completions). */
    void interruptForError() {
        SyncPass p = pass;
        if (p != null) {
            p.interrupt();
            needed = true;
        }
    }

    /** Passes the lock manager refused in a row (0 once a pass ran). */
    int refusalsInARow() {
        return refusals.inARow();
    }

    /**
     * md_check_recovery's sync part, on the md thread, only when the lock is free (md uses
     * mddev_trylock: an administrator holding it may be waiting for this thread's superblock
     * update).
     */
    void checkRecovery() {
        if (!lock.tryLock()) return;
        try {
            if (state == ThreadState.DONE) reapLocked();
            if (refusals.due(System.nanoTime())) needed = true;
            // held for the cluster session (md: a suspended mddev starts no sync): a pass now could
            // only be refused its resync lock; releasing the hold asks again
            if (closing || frozen || state != ThreadState.IDLE || array.isFenced() || array.sessionHeld()) return;
            if (syncDisabled != null) {
                needed = false;
                changed.signalAll();
                return;
            }
            array.legs().activateSpares();
            if (!needed) return;
            needed = false;
            SyncAction a = decideLocked();
            if (a == null) {
                changed.signalAll();
                return;
            }
            startLocked(a);
        } finally {
            lock.unlock();
        }
    }

    /** What md would run now, or null. */
    private SyncAction decideLocked() {
        MirrorSet set = array.mirrors();
        if (!set.inState(MirrorState.REBUILDING).isEmpty()) {
            return set.inSyncArray().length > 0 ? SyncAction.RECOVER : null;
        }
        if (requested != null) {
            if (set.inSyncArray().length >= 2) return requested;
            requested = null;
        }
        ArrayMetadata md = array.metadata();
        boolean dirty = md.recoveryCp() < Mddev.MAX_SECTOR;
        WriteIntentBitmap bitmap = array.bitmapOrNull();
        if (!dirty && bitmap != null && set.missingRoles() == 0 && neededBelowSize(bitmap)) dirty = true;
        if (!dirty) return null;
        if (set.inSyncArray().length >= 2) return SyncAction.RESYNC;
        if (set.missingRoles() > 0 || set.raidDisks() == 1) {
            // one copy: nothing to compare it with; its NEEDED bits wait for the missing legs
            md.recoveryCp(Mddev.MAX_SECTOR);
            array.updater().request("nothing to resync with one leg");
        }
        return null;
    }

    /**
     * NEEDED chunks a pass can reach: a peer's grow marks the new region in our bitmap before the
     * size grows here (SizeChange), and a pass that stops at the old end would find it again at
     * once (docs/lessons.md §49).
     */
    private boolean neededBelowSize(WriteIntentBitmap bitmap) {
        long n = bitmap.nextNeeded(0);
        return n >= 0 && n < array.sizeSectors();
    }

    private void startLocked(SyncAction a) {
        refusals.cancel();
        SyncPass p = new SyncPass(array, this, a);
        Thread t = new Thread(() -> runPass(p), "resync-" + array.name());
        t.setDaemon(true);
        t.setUncaughtExceptionHandler((th, e) -> array.fence(FenceReason.CRITICAL_THREAD_FAILED, e));
        pass = p;
        thread = t;
        array.barrier().resetResyncInterrupt();
        transition(ThreadState.IDLE, ThreadState.RUNNING);
        t.start();
    }

    private void runPass(SyncPass p) {
        mostAlive.accumulateAndGet(alive.incrementAndGet(), Math::max);
        passes.incrementAndGet();
        try {
            p.run();
        } catch (RuntimeException | Error e) {
            log.error("{}: sync thread failed", array.name(), e);
            array.fence(FenceReason.CRITICAL_THREAD_FAILED, e);
        } finally {
            alive.decrementAndGet();
            lock.lock();
            try {
                transition(ThreadState.RUNNING, ThreadState.DONE);
            } finally {
                lock.unlock();
            }
            array.wakeMdThread();
        }
    }

    /** md_reap_sync_thread, under the lock: apply the result, write the superblock, finish. */
    private void reapLocked() {
        SyncPass p = pass;
        Thread t = thread;
        if (t != null) {
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        SyncReport r = p.report();
        if (r == null) {
            r = new SyncReport(p.action(), p.startSector(), p.completedUpTo(), false, 0, 0, 0, 0, "sync thread died");
        }
        apply(p, r);
        last = r;
        if (r.failure() != null && !closing) {
            syncDisabled = r.failure();
            log.warn(
                    "{}: {} failed ({}): no sync starts by itself until an action is written or a leg is added",
                    array.name(),
                    r.action(),
                    r.failure());
        }
        if (r.action() == SyncAction.CHECK || r.action() == SyncAction.REPAIR) {
            mismatchCnt = r.mismatches();
            requested = null;
        }
        array.updater().request("sync " + r.action() + (r.completed() ? " done" : " stopped at " + r.endSector()));
        array.updater().runPending();
        if (p.resyncLocked()) {
            try {
                array.cluster().resyncFinish(closing);
            } catch (Raid1Exception e) {
                log.warn("{}: resync finish: {}", array.name(), e.getMessage());
            }
        }
        log.info(
                "{}: {} {} at sector {} ({} sectors copied, {} mismatched, {} ms){}",
                array.name(),
                r.action(),
                r.completed() ? "completed" : "stopped",
                r.endSector(),
                r.sectorsCopied(),
                r.mismatches(),
                TimeUnit.NANOSECONDS.toMillis(r.nanos()),
                r.failure() != null ? ": " + r.failure() : "");
        if (p.refusedByCluster()) {
            // tried again after the backoff (the md thread looks at least every second), or at
            // once when the session hold ends; never in a loop while the lock manager refuses
            refusals.refused(System.nanoTime());
            needed = false; // asked for during the pass: the retry covers it
        } else {
            refusals.ran();
            needed = true;
        }
        // while the pass is still known, so the transition reports "resync -> idle"
        transition(ThreadState.DONE, ThreadState.IDLE);
        pass = null;
        thread = null;
    }

    private void apply(SyncPass p, SyncReport r) {
        ArrayMetadata md = array.metadata();
        switch (r.action()) {
            case RESYNC -> {
                if (r.completed()) md.recoveryCp(Mddev.MAX_SECTOR);
                else if (r.endSector() > md.recoveryCp()) md.recoveryCp(r.endSector());
            }
            case RECOVER -> array.legs().recoveryEnded(p.targets(), r.completed(), r.endSector());
            case REPAIR -> {
                if (r.completed() && r.startSector() == 0 && syncMax == Long.MAX_VALUE) md.recoveryCp(Mddev.MAX_SECTOR);
            }
            default -> {}
        }
    }

    /** A running pass reached a checkpoint: record progress (sync thread). */
    void checkpoint(SyncPass p, long done) {
        if (p.action() == SyncAction.RESYNC) {
            ArrayMetadata md = array.metadata();
            if (done > md.recoveryCp()) md.recoveryCp(done);
        } else if (p.action() == SyncAction.RECOVER) {
            array.legs().recoveryProgress(p.targets(), done);
        } else {
            return;
        }
        array.updater().request("sync checkpoint at " + done);
    }

    /** Stops and reaps any pass for close; nothing starts afterwards. */
    void stopForClose() {
        lock.lock();
        try {
            closing = true;
            try {
                stopAndReapLocked(System.nanoTime() + array.ioWaitNanos());
            } catch (Raid1Exception e) {
                log.warn("{}: {}", array.name(), e.getMessage());
            }
        } finally {
            lock.unlock();
        }
    }

    /** Waits until no pass runs and the md thread found nothing more to start. */
    Optional<SyncReport> awaitIdle(Duration timeout) throws Raid1Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        array.wakeMdThread();
        lock.lock();
        try {
            while (state != ThreadState.IDLE || (needed && !frozen && !closing && !array.isFenced())) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new Raid1Exception(
                            Raid1Exception.Code.TIMEOUT,
                            array.name() + ": sync still " + (state == ThreadState.IDLE ? "pending" : actionLocked())
                                    + " after " + timeout);
                }
                changed.awaitNanos(Math.min(left, TimeUnit.MILLISECONDS.toNanos(50)));
                if (needed) array.wakeMdThread();
            }
            return Optional.ofNullable(last);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, array.name() + ": interrupted");
        } finally {
            lock.unlock();
        }
    }

    // ------------------------------------------------------------------ attributes

    /** Sync passes started since assembly. */
    long passesStarted() {
        return passes.get();
    }

    /** The most sync threads ever alive at once (must stay 1). */
    int mostConcurrentPasses() {
        return mostAlive.get();
    }

    Optional<SyncReport> last() {
        lock.lock();
        try {
            return Optional.ofNullable(last);
        } finally {
            lock.unlock();
        }
    }

    long mismatchCnt() {
        lock.lock();
        try {
            SyncPass p = pass;
            if (p != null && (p.action() == SyncAction.CHECK || p.action() == SyncAction.REPAIR))
                return p.mismatchesSoFar();
            return mismatchCnt;
        } finally {
            lock.unlock();
        }
    }

    /** The running pass, if any (its progress fields are safe to read). */
    Optional<SyncPass> running() {
        return Optional.ofNullable(pass);
    }

    boolean frozen() {
        lock.lock();
        try {
            return frozen;
        } finally {
            lock.unlock();
        }
    }

    long syncMin() {
        return syncMin;
    }

    long syncMax() {
        return syncMax;
    }

    /**
     * md's min_sync_store: rounded down to 4 KiB (8 sectors), so any 4 KiB-aligned value reads
     * back as written (docs/lessons.md §24); refused while a pass runs or above sync_max.
     */
    void syncMin(long sectors) throws Raid1Exception {
        if (sectors < 0)
            throw new Raid1Exception(Raid1Exception.Code.INVALID, array.name() + ": sync_min must be >= 0");
        long v = sectors & ~7L;
        lock.lock();
        try {
            if (state != ThreadState.IDLE) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY, array.name() + ": sync_min cannot change while a sync runs");
            }
            if (v > syncMax) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID, array.name() + ": sync_min " + v + " > sync_max " + syncMax);
            }
            syncMin = v;
        } finally {
            lock.unlock();
        }
    }

    /**
     * md's max_sync_store: {@code Long.MAX_VALUE} is "max"; a running pass pauses there until it
     * is raised; lowering it below where a running pass already is is refused.
     */
    void syncMax(long sectors) throws Raid1Exception {
        lock.lock();
        try {
            if (sectors < syncMin) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID, array.name() + ": sync_max " + sectors + " < sync_min " + syncMin);
            }
            SyncPass p = pass;
            if (p != null && state == ThreadState.RUNNING && sectors < syncMax && sectors < p.completedUpTo()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY, array.name() + ": sync is already past sector " + sectors);
            }
            syncMax = sectors;
        } finally {
            lock.unlock();
        }
        synchronized (syncMaxMonitor) {
            syncMaxMonitor.notifyAll();
        }
    }

    /** Sync thread: waits (bounded) for sync_max to rise above {@code pos}. */
    void awaitSyncMaxAbove(long pos, long nanos) throws InterruptedException {
        synchronized (syncMaxMonitor) {
            if (syncMax <= pos) TimeUnit.NANOSECONDS.timedWait(syncMaxMonitor, nanos);
        }
    }
}
