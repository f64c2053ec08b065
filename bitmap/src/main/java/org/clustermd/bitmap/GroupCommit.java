package org.clustermd.bitmap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Makes changed pages of one slot durable in rounds (md's {@code bitmap_unplug}, done as a
 * group commit like BookKeeper's {@code ForceWriteThread}): everything registered before a
 * round starts goes out in that round's writes and its single flush.
 *
 * <p>There is no flush thread on the write path. A thread that needs durability registers its
 * chunks, then either waits for the round that will carry them or, if no round is running,
 * runs it itself (leader/follower). Threads that arrive while a round is writing are collected
 * by the next round, so N concurrent first writes cost at most two rounds, and usually one.
 *
 * <p>A round, under the lock: takes the registered chunks, copies the dirty pages into the
 * slot's write buffer. Without the lock: writes the runs, flushes. Under the lock again: on
 * success PENDING chunks become DIRTY and CLEARING chunks CLEAN; on failure the pages are
 * marked dirty again and the chunks go back to the next round, and the waiters of this round
 * see the failure.
 *
 * <p>Thread-safety: every method must be called with the bitmap's lock held exactly once
 * (rounds release it during I/O).
 */
final class GroupCommit {
    private static final Logger log = LoggerFactory.getLogger(GroupCommit.class);

    private final ReentrantLock lock;
    private final Condition roundDone;
    private final BitmapStorage storage;
    private final String where;
    private final IoCounters io;

    // all guarded by lock
    private SlotState slot;
    private boolean inProgress;
    private long started;
    private long completed;
    private final IntList pendingSet = new IntList();
    private final IntList pendingClear = new IntList();
    private BitmapException lastFailure;
    /** Numbers of recent failed rounds (failures are rare; bounded so it cannot grow). */
    private final ArrayDeque<Long> failedRounds = new ArrayDeque<>();

    GroupCommit(ReentrantLock lock, BitmapStorage storage, String where, IoCounters io, SlotState slot) {
        this.lock = lock;
        this.roundDone = lock.newCondition();
        this.storage = storage;
        this.where = where;
        this.io = io;
        this.slot = slot;
    }

    /** Switches to a resized slot; the caller has drained every round first. */
    void attach(SlotState newSlot) {
        if (inProgress || pendingSet.size() > 0 || pendingClear.size() > 0) {
            throw new IllegalStateException("attach with a round in progress or chunks registered");
        }
        slot = newSlot;
    }

    /** A chunk turned PENDING: its bit must reach disk in the next round. */
    void registerSet(int chunk) {
        pendingSet.add(chunk);
    }

    /** A chunk turned CLEARING: its cleared bit goes out in the next round. */
    void registerClear(int chunk) {
        pendingClear.add(chunk);
    }

    /** The round that will carry whatever is registered now. */
    long nextRound() {
        return started + 1;
    }

    /**
     * The round that carries the bit of PENDING chunk {@code c}: the one writing now if it took
     * the chunk, else the next. A writer that meets a bit set ahead, already on its way, waits
     * for that round only, not for one more behind it (docs/lessons.md §55).
     */
    long roundCarrying(int c) {
        return inProgress && !pendingSet.contains(c) ? started : started + 1;
    }

    boolean idle() {
        return !inProgress && pendingSet.size() == 0 && pendingClear.size() == 0 && !slot.image.hasDirtyPages();
    }

    /** Registered chunks not yet taken by a round (a test hook for group-commit tests). */
    int registered() {
        return pendingSet.size();
    }

    BitmapException lastFailure() {
        return lastFailure;
    }

    /** Whether round {@code round} (already completed) failed. */
    boolean failed(long round) {
        return failedRounds.contains(round);
    }

    /** Returns once round {@code round} has completed, running rounds itself when none runs. */
    void await(long round) {
        while (completed < round) {
            if (!inProgress) {
                runRound();
            } else {
                roundDone.awaitUninterruptibly();
            }
        }
    }

    private void runRound() {
        if (lock.getHoldCount() != 1) throw new IllegalStateException("a round needs the lock held exactly once");
        SlotState s = slot;
        inProgress = true;
        long round = ++started;
        int[] sets = pendingSet.drain();
        int[] clears = pendingClear.drain();
        int[] runs = s.image.snapshot(s.writeBuffer);
        BitmapException failure = null;
        Error fatal = null;
        lock.unlock();
        try {
            if (runs.length > 0) {
                for (int i = 0; i < runs.length; i += 2) {
                    int from = runs[i] * BitmapGeometry.PAGE_SIZE;
                    int len = (runs[i + 1] - runs[i] + 1) * BitmapGeometry.PAGE_SIZE;
                    ByteBuffer part = s.writeBuffer
                            .duplicate()
                            .position(from)
                            .limit(from + len)
                            .slice();
                    storage.write(s.slotOffset + from, part);
                    io.writes.incrementAndGet();
                    io.bytes.addAndGet(len);
                }
                storage.flush();
                io.flushes.incrementAndGet();
                io.rounds.incrementAndGet();
            }
        } catch (IOException | RuntimeException e) {
            failure = new BitmapException(
                    BitmapException.Code.STORAGE, where + ": writing bitmap pages failed: " + e.getMessage(), e);
        } catch (Error e) {
            // finish the round's bookkeeping first, or every waiter would hang on it
            failure =
                    new BitmapException(BitmapException.Code.STORAGE, where + ": writing bitmap pages failed: " + e, e);
            fatal = e;
        } finally {
            lock.lock();
        }
        if (failure == null) {
            ChunkCounters cc = s.counters;
            for (int c : sets) promote(cc, c, ChunkCounters.PENDING, ChunkCounters.DIRTY);
            for (int c : clears) {
                if (promote(cc, c, ChunkCounters.CLEARING, ChunkCounters.CLEAN)) io.bitsCleared.incrementAndGet();
            }
            io.bitsSet.addAndGet(sets.length);
        } else {
            log.warn("{}: bitmap round {} failed; {} bits stay pending", where, round, sets.length, failure);
            io.failedRounds.incrementAndGet();
            s.image.remarkDirty(runs);
            pendingSet.addAll(sets);
            pendingClear.addAll(clears);
            lastFailure = failure;
            failedRounds.addLast(round);
            if (failedRounds.size() > 1024) failedRounds.removeFirst();
        }
        completed = round;
        inProgress = false;
        roundDone.signalAll();
        if (fatal != null) throw fatal;
    }

    /** DISK from -> to, keeping every other field; false if the chunk moved on meanwhile. */
    private static boolean promote(ChunkCounters cc, int c, int from, int to) {
        for (; ; ) {
            int v = cc.get(c);
            if (ChunkCounters.disk(v) != from) return false;
            int u = (v & ~ChunkCounters.DISK_MASK) | to;
            if (to == ChunkCounters.CLEAN) u &= ~ChunkCounters.AGE_MASK;
            if (cc.cas(c, v, u)) return true;
        }
    }
}
