package org.clustermd.raid1;

import java.util.Optional;
import java.util.function.Supplier;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The array's fence (md's {@code MD_BROKEN} taken further, see {@link FenceReason}): once set,
 * every new request fails with FENCED and nothing more is written to the legs. Owns the reason and
 * the fence sequence: the leg writes the lease hold still holds are failed first (never issued
 * now), then the bitmap (its lazy clearing must stop before anything else), then the I/O stop the
 * array wires in, then the listeners.
 *
 * <p>Thread-safe: {@link #fence} may race from any thread (a lease hold, a dying engine thread,
 * the cluster session); the first reason sticks and only its caller runs the sequence.
 */
final class Fence {
    // logged under the array's name as before the split: log configurations name Raid1Array
    private static final Logger log = LoggerFactory.getLogger(Raid1Array.class);

    private final String name;
    private final Supplier<WriteIntentBitmap> bitmap;
    private final Runnable stopIo;
    private final Notifier notifier;
    private volatile FenceReason fenced;
    /** Fails the writes the lease hold queued; set once by {@link LeaseHold#attach}. */
    private volatile Runnable failHeldWrites = () -> {};

    /**
     * @param bitmap the bitmap or null: read when fencing, since it is opened only at start
     * @param stopIo interrupts the sync and suspends requests, run once when fenced
     */
    Fence(String name, Supplier<WriteIntentBitmap> bitmap, Runnable stopIo, Notifier notifier) {
        this.name = name;
        this.bitmap = bitmap;
        this.stopIo = stopIo;
        this.notifier = notifier;
    }

    String name() {
        return name;
    }

    /** {@code fail} ends the lease hold's held writes; run as soon as the fence is set. */
    void failHeldWritesWith(Runnable fail) {
        this.failHeldWrites = fail;
    }

    /** Stops all I/O for good; the first reason sticks. */
    void fence(FenceReason reason, Throwable cause) {
        synchronized (this) {
            if (fenced != null) return;
            fenced = reason;
        }
        log.error("{}: fenced: {}", name, reason, cause);
        // Held writes fail now that the fence is set (so none is taken for a broken leg), before
        // the bitmap's fence waits for its daemon: the daemon may be waiting for a page write the
        // lease holds, and the lease hold's thread, which fails them, may be the one fencing
        // (docs/lessons.md §60).
        failHeldWrites.run();
        WriteIntentBitmap b = bitmap.get();
        if (b != null) {
            // not even the lazy clearing may write on: another node may be recovering our slot
            b.fence();
        }
        stopIo.run();
        notifier.fenced(reason, cause);
    }

    boolean isFenced() {
        return fenced != null;
    }

    /** The reason, null while not fenced. */
    FenceReason reasonOrNull() {
        return fenced;
    }

    Optional<FenceReason> reason() {
        return Optional.ofNullable(fenced);
    }
}
