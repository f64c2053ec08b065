package org.clustermd.raid1;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * md's {@code array_state} machinery for one array: read-only modes, the clean/active flip of
 * {@code md_write_start}/{@code md_write_end} and safemode (after {@code safemode_delay} without
 * writes, the superblock is marked clean again). The owner of {@link ArrayState}; every change
 * goes through one place and is reported once.
 *
 * <p>The write hot path ({@link #writeStart} while active, {@link #writeEnd}) is two atomic
 * operations and two volatile reads. A write that finds the array clean waits (bounded) until a
 * superblock saying "active" (resync_offset 0) is on the legs, as md's md_write_start does, so
 * an unclean stop is always visible at the next assembly.
 *
 * <p>Thread-safe.
 */
final class ArrayStateMachine {
    /** md's {@code mddev->ro}: 0 writable, 1 read-only, 2 read-auto (writable on the first write). */
    enum ReadOnlyMode {
        RW,
        READONLY,
        READ_AUTO
    }

    private final String name;
    private final ArrayMetadata metadata;
    private final Function<String, CompletableFuture<Void>> requestUpdate;
    private final Consumer<AttributeChange> notify;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicLong writesPending = new AtomicLong();
    private final long safemodeDelayNanos;

    private volatile ReadOnlyMode ro;
    /** md's in_sync: the superblock on the legs says the array is clean. */
    private volatile boolean clean;
    /** A clean-to-active superblock update is in flight (write-pending). */
    private volatile boolean sbPending;
    /** Guarded by lock. */
    private CompletableFuture<Void> pendingUpdate;

    private volatile long lastWriteEnd = System.nanoTime();
    private volatile boolean running;
    private volatile boolean suspended;
    private volatile boolean closed;
    /** Guarded by lock: the last state reported. */
    private ArrayState reported = ArrayState.INACTIVE;

    ArrayStateMachine(
            String name,
            ArrayMetadata metadata,
            long safemodeDelayNanos,
            boolean readOnly,
            Function<String, CompletableFuture<Void>> requestUpdate,
            Consumer<AttributeChange> notify) {
        this.name = name;
        this.metadata = metadata;
        this.safemodeDelayNanos = safemodeDelayNanos;
        this.requestUpdate = requestUpdate;
        this.notify = notify;
        this.ro = readOnly ? ReadOnlyMode.READONLY : ReadOnlyMode.RW;
        this.clean = metadata.inSync();
    }

    /** The array runs: from inactive to its real state. */
    void started() {
        running = true;
        changed();
    }

    /**
     * md_write_start: counts a write and makes sure the superblock says active first.
     *
     * @throws Raid1Exception READ_ONLY, TIMEOUT (superblock update too slow), IO_ERROR (it failed)
     */
    void writeStart(long timeoutNanos) throws Raid1Exception {
        writesPending.incrementAndGet();
        // clean is read before sbPending: a writer flips sbPending on before clean off
        if (ro == ReadOnlyMode.RW && !clean && !sbPending) return;
        try {
            slowWriteStart(timeoutNanos);
        } catch (Raid1Exception | RuntimeException e) {
            writesPending.decrementAndGet();
            throw e;
        }
    }

    /**
     * {@link #writeStart}'s fast path alone, for a caller that must not block: true with the
     * write counted when the array is already active and writable; false with nothing counted
     * when writeStart would have to update the superblock, wait for one, or refuse.
     */
    boolean tryWriteStart() {
        writesPending.incrementAndGet();
        if (ro == ReadOnlyMode.RW && !clean && !sbPending) return true;
        writesPending.decrementAndGet();
        return false;
    }

    /** Undoes a successful {@link #tryWriteStart} whose write was never issued (no write ended). */
    void cancelWriteStart() {
        writesPending.decrementAndGet();
    }

    private void slowWriteStart(long timeoutNanos) throws Raid1Exception {
        CompletableFuture<Void> wait;
        lock.lock();
        try {
            if (ro == ReadOnlyMode.READONLY)
                throw new Raid1Exception(Raid1Exception.Code.READ_ONLY, name + ": array is read-only");
            if (ro == ReadOnlyMode.READ_AUTO)
                ro = ReadOnlyMode.RW; // md: the first write makes a read-auto array active
            if (clean) {
                sbPending = true;
                clean = false;
                metadata.inSync(false);
                pendingUpdate = requestUpdate.apply("array becomes active");
                CompletableFuture<Void> mine = pendingUpdate;
                mine.whenComplete((v, t) -> updateDone(mine));
            }
            wait = sbPending ? pendingUpdate : null;
            changedLocked();
        } finally {
            lock.unlock();
        }
        if (wait != null) MetadataUpdater.awaitUpdate(name, wait, timeoutNanos, "marking the array active");
    }

    private void updateDone(CompletableFuture<Void> f) {
        lock.lock();
        try {
            if (pendingUpdate == f) {
                sbPending = false;
                pendingUpdate = null;
            }
            changedLocked();
        } finally {
            lock.unlock();
        }
    }

    /** md_write_end. */
    void writeEnd() {
        lastWriteEnd = System.nanoTime();
        writesPending.decrementAndGet();
    }

    long writesPending() {
        return writesPending.get();
    }

    /**
     * Safemode, run by the md thread: after {@code safemode_delay} without writes the array is
     * marked clean. Returns the nanoseconds until it should look again (Long.MAX_VALUE: never).
     */
    long checkSafemode() {
        if (safemodeDelayNanos <= 0 || closed) return Long.MAX_VALUE;
        if (clean || ro != ReadOnlyMode.RW) return safemodeDelayNanos;
        if (writesPending.get() > 0) return safemodeDelayNanos;
        long idle = System.nanoTime() - lastWriteEnd;
        if (idle < safemodeDelayNanos) return safemodeDelayNanos - idle;
        markClean("safemode");
        return safemodeDelayNanos;
    }

    /**
     * Marks the array clean if no write is pending (safemode, close, or a request to write
     * "clean"). Returns whether it is clean now. The superblock update is requested, not awaited.
     */
    boolean markClean(String why) {
        boolean became = false;
        lock.lock();
        try {
            if (clean) return true;
            if (sbPending) return false;
            clean = true;
            // Dekker with writeStart: a write counted before this check keeps the array active
            if (writesPending.get() > 0) {
                clean = false;
                return false;
            }
            metadata.inSync(true);
            became = true;
            changedLocked();
        } finally {
            lock.unlock();
        }
        if (became) requestUpdate.apply("array clean (" + why + ")");
        return true;
    }

    /** array_state writes: readonly, read-auto, active, clean. */
    void set(ArrayState target, long timeoutNanos) throws Raid1Exception {
        switch (target) {
            case READONLY -> {
                lock.lock();
                try {
                    if (writesPending.get() > 0) {
                        throw new Raid1Exception(
                                Raid1Exception.Code.BUSY, name + ": writes are in flight; cannot go read-only");
                    }
                    ro = ReadOnlyMode.READONLY;
                    changedLocked();
                } finally {
                    lock.unlock();
                }
            }
            case READ_AUTO -> {
                lock.lock();
                try {
                    if (ro == ReadOnlyMode.RW && !clean) {
                        throw new Raid1Exception(
                                Raid1Exception.Code.BUSY, name + ": array is active; read-auto needs it clean");
                    }
                    ro = ReadOnlyMode.READ_AUTO;
                    changedLocked();
                } finally {
                    lock.unlock();
                }
            }
            case ACTIVE -> {
                writeStart(timeoutNanos);
                writeEnd();
            }
            case CLEAN -> {
                lock.lock();
                try {
                    if (ro != ReadOnlyMode.RW) ro = ReadOnlyMode.RW;
                } finally {
                    lock.unlock();
                }
                if (!markClean("requested")) {
                    throw new Raid1Exception(
                            Raid1Exception.Code.BUSY, name + ": writes are in flight; cannot mark clean");
                }
            }
            default ->
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        name + ": array_state cannot be set to " + target + " (close the array instead)");
        }
    }

    boolean readOnly() {
        return ro == ReadOnlyMode.READONLY;
    }

    boolean clean() {
        return clean;
    }

    void suspended(boolean on) {
        suspended = on;
        changed();
    }

    void closed() {
        closed = true;
        running = false;
        changed();
    }

    /** The state as md reports it. */
    ArrayState state() {
        if (closed) return ArrayState.CLEAR;
        if (!running) return ArrayState.INACTIVE;
        if (suspended) return ArrayState.SUSPENDED;
        if (ro == ReadOnlyMode.READONLY) return ArrayState.READONLY;
        if (ro == ReadOnlyMode.READ_AUTO) return ArrayState.READ_AUTO;
        if (clean) return ArrayState.CLEAN;
        if (sbPending) return ArrayState.WRITE_PENDING;
        if (safemodeDelayNanos > 0
                && writesPending.get() == 0
                && System.nanoTime() - lastWriteEnd >= safemodeDelayNanos) {
            return ArrayState.ACTIVE_IDLE;
        }
        return ArrayState.ACTIVE;
    }

    void changed() {
        lock.lock();
        try {
            changedLocked();
        } finally {
            lock.unlock();
        }
    }

    private void changedLocked() {
        ArrayState now = state();
        if (now == ArrayState.ACTIVE_IDLE) now = ArrayState.ACTIVE; // transient; not worth a notification
        if (now != reported) {
            notify.accept(AttributeChange.array(AttributeChange.ARRAY_STATE, reported, now));
            reported = now;
        }
    }

    static long nanos(java.time.Duration d) {
        return TimeUnit.NANOSECONDS.convert(d);
    }
}
