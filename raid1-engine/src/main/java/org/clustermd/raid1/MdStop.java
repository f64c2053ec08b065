package org.clustermd.raid1;

import java.util.concurrent.TimeUnit;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code do_md_stop}: the order in which a running array lets go of its threads, its
 * bitmap, the cluster and the legs ({@link #stop}), and the undoing of a start that failed
 * ({@link #abort}). Owns no state of its own: {@code closing} on the core is what makes both
 * run once and what the request paths test.
 *
 * <p>Thread-safe: either method may be called from any thread; the first caller of
 * {@link #stop} runs the sequence and the others return at once.
 */
final class MdStop {
    // logged under the array's name as before the split: log configurations name Raid1Array
    private static final Logger log = LoggerFactory.getLogger(Raid1Array.class);

    private final MddevCore core;

    MdStop(MddevCore core) {
        this.core = core;
    }

    /**
     * Refuses new requests, stops and reaps the sync thread (its progress is checkpointed), lets
     * requests in flight finish, marks the array clean, hands unfinished work over to the cluster,
     * closes the bitmap (idle bits cleared), leaves the cluster and closes the legs. Idempotent.
     */
    void stop() {
        MddevCore c = core;
        if (!c.closing.compareAndSet(false, true)) return;
        c.submitter.shutdown(); // queued requests still run, and fail as closed
        c.sync.stopForClose();
        c.mdThread.stop();
        long deadline = System.nanoTime() + c.ioWaitNanos;
        while ((c.accounting.inFlight() > 0 || !c.submitter.isTerminated()) && System.nanoTime() - deadline < 0) {
            c.updater.runPending();
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        if (!c.isFenced()) {
            c.state.markClean("stop");
            c.updater.runPending();
        }
        boolean inSync = c.metadata.recoveryCp() == Mddev.MAX_SECTOR;
        // md's close order: the cluster stops receiving and hands over while the bitmap is open,
        // then the bitmap closes, then the locks go (docs/md-cluster-protocol.md §c.5)
        c.cluster.handOver(inSync);
        WriteIntentBitmap b = c.bitmapOrNull();
        if (b != null && !c.isFenced()) {
            try {
                b.close();
            } catch (BitmapException e) {
                log.warn("{}: closing the bitmap: {}", c.name, e.getMessage());
            }
        }
        c.cluster.leave(inSync);
        c.raid1d.shutdown();
        try {
            c.raid1d.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        c.leaseHold.close();
        for (Mirror m : c.mirrors.current().mirrors()) Assembler.closeQuietly(m.leg().device);
        c.state.closed();
        c.notifier.close();
        log.info("{}: stopped", c.name);
    }

    /** Undoes a failed start: nothing was written. */
    void abort() {
        MddevCore c = core;
        c.closing.set(true);
        c.mdThread.stop();
        WriteIntentBitmap b = c.bitmapOrNull();
        if (b != null) {
            try {
                b.close();
            } catch (BitmapException e) {
                log.warn("{}: closing the bitmap: {}", c.name, e.getMessage());
            }
        }
        c.cluster.leave(true);
        c.leaseHold.close();
        for (Mirror m : c.mirrors.current().mirrors()) Assembler.closeQuietly(m.leg().device);
        c.raid1d.shutdownNow();
        c.notifier.close();
    }
}
