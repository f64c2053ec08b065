package org.clustermd.cluster;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.FenceReason;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md-cluster's recovery thread ({@code <md>_recover} running {@code recover_bitmaps}) and its
 * {@code recovery_map}: dead slots are {@link #add}ed from the lockspace's recover_slot callback
 * (which must not block), and a leaver's slot from its BITMAP_NEEDS_SYNC ({@link HandOver}); each
 * with the incarnation of the member whose bits are to be taken, so a new member in that slot is
 * left alone (docs/md-cluster-protocol.md §d.3). This thread takes the highest pending slot, runs a
 * {@link NodeRecovery} for it and removes it once the episode succeeded. Slots reported before
 * the bitmap exists wait until {@link #start} (md defers until {@code load_bitmaps}, docs/lessons.md §8).
 * A failed episode (lock timeout, bitmap I/O error, a slot that could not be copied onto a leg
 * that lacks it) keeps the slot pending and is retried after
 * a pause, so a dead node's bits are never dropped.
 *
 * <p>Thread-safe: {@link #add}, {@link #pending} and {@link #stop} from any thread.
 */
final class RecoveryThread {
    private static final Logger log = LoggerFactory.getLogger(RecoveryThread.class);
    private static final long RETRY_PAUSE_MS = 1000;

    private final Mddev array;
    private final Supplier<LockSpace> lockSpace;
    private final Duration lockWait;
    private final ClusterListener listener;
    private final Runnable changed;
    private final Object monitor = new Object();
    /** Guarded by monitor: slot number to the incarnation whose bits are to be taken (the latest reported). */
    private final TreeMap<Integer, Long> map = new TreeMap<>();
    /** Guarded by monitor. */
    private Thread thread;
    /** Guarded by monitor. */
    private boolean stopped;

    private volatile WriteIntentBitmap bitmap;
    private volatile long dirtyChunksMoved;
    private volatile long episodes;

    /**
     * @param lockSpace the lockspace, read when the thread starts (this object exists before the
     *     lockspace is joined, so that no recover_slot can be missed)
     * @param changed told (without any lock held) whenever the set of pending slots changes
     */
    RecoveryThread(
            Mddev array, Supplier<LockSpace> lockSpace, Duration lockWait, ClusterListener listener, Runnable changed) {
        this.array = array;
        this.lockSpace = lockSpace;
        this.lockWait = lockWait;
        this.listener = listener;
        this.changed = changed;
    }

    /**
     * recover_slot, or a BITMAP_NEEDS_SYNC: {@code gone} died or left handing its work over;
     * recover its slot (now, or once the bitmap exists).
     */
    void add(MemberId gone) {
        synchronized (monitor) {
            if (stopped) return;
            map.put(gone.slot().number(), gone.incarnation());
            monitor.notifyAll();
        }
        changed.run();
    }

    /** Slots still to recover. */
    Set<Integer> pending() {
        synchronized (monitor) {
            return Set.copyOf(map.keySet());
        }
    }

    boolean hasPending() {
        synchronized (monitor) {
            return !map.isEmpty();
        }
    }

    /** The bitmap exists: start the thread (once). */
    void start(WriteIntentBitmap b) {
        synchronized (monitor) {
            if (stopped || thread != null) return;
            this.bitmap = b;
            thread = new Thread(this::loop, "cluster-recover-" + array.name());
            thread.setDaemon(true);
            // a dead slot nobody recovers would keep its dirty bits out of every resync: stop writing
            thread.setUncaughtExceptionHandler((th, e) -> array.fence(FenceReason.CRITICAL_THREAD_FAILED, e));
            thread.start();
        }
    }

    /** Stops the thread (interrupting a wait for a lock) and waits for it, bounded. */
    void stop() {
        Thread t;
        synchronized (monitor) {
            stopped = true;
            t = thread;
            monitor.notifyAll();
        }
        if (t == null) return;
        t.interrupt();
        try {
            t.join(TimeUnit.SECONDS.toMillis(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (t.isAlive()) log.warn("{}: the recovery thread did not stop in time", array.name());
    }

    /** Dirty chunks moved into our bitmap from dead slots so far. */
    long dirtyChunksMoved() {
        return dirtyChunksMoved;
    }

    /** Recovery episodes that completed. */
    long episodes() {
        return episodes;
    }

    private void loop() {
        try {
            while (true) {
                MemberId gone;
                synchronized (monitor) {
                    while (!stopped && map.isEmpty()) monitor.wait();
                    if (stopped) return;
                    Map.Entry<Integer, Long> last = map.lastEntry(); // md takes the highest set bit first
                    gone = new MemberId(new NodeSlot(last.getKey()), last.getValue());
                }
                if (runOne(gone)) {
                    synchronized (monitor) {
                        // a later report for the same slot (a newer incarnation) stays pending
                        map.remove(gone.slot().number(), gone.incarnation());
                    }
                    changed.run();
                } else {
                    Thread.sleep(RETRY_PAUSE_MS);
                }
            }
        } catch (InterruptedException e) {
            // stopping
        }
    }

    /** One episode; true when the slot is done with. */
    private boolean runOne(MemberId gone) throws InterruptedException {
        NodeSlot slot = gone.slot();
        NodeRecovery r = new NodeRecovery(gone, lockSpace.get(), bitmap, array, lockWait, copy -> {
            dirtyChunksMoved += copy.dirtyChunks();
            listener.slotRecovered(slot, copy);
        });
        try {
            r.run();
            episodes++;
            // the dead node may have been growing the array: its slot is ours to look at now
            // (docs/lessons.md §62); a failure runs the episode again, which finds the slot clean
            array.finishInterruptedGrow();
            return true;
        } catch (DlmException e) {
            if (e.code() == DlmException.Code.CLOSED || e.code() == DlmException.Code.LOCKSPACE_LOST) {
                log.warn("{}: recovery of {} abandoned: {}", array.name(), slot, e.getMessage());
                return true; // no longer a member: a remaining node recovers it
            }
            failed(slot, e.getMessage());
        } catch (BitmapException | Raid1Exception e) {
            failed(slot, e.getMessage());
        } catch (RuntimeException e) {
            log.error("{}: recovery of {} failed", array.name(), slot, e);
            failed(slot, e.toString());
        }
        return false;
    }

    private void failed(NodeSlot slot, String why) {
        log.error("{}: recovery of {} failed, will retry: {}", array.name(), slot, why);
        listener.slotRecoveryFailed(slot, why);
    }
}
