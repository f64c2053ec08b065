package org.clustermd.cluster;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.bitmap.SlotSizes;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One episode of md-cluster's {@code recover_bitmaps} for one dead slot
 * (docs/md-cluster-protocol.md §d.2), created per failed node, run once, then discarded:
 * <ol>
 *   <li>request the dead slot's {@code bitmapNNNN} lock in PW and wait for it, interruptibly
 *       and in bounded slices: it is granted once the lock manager purged the dead node's PW,
 *       and to one survivor at a time;</li>
 *   <li>copy the slot onto the legs this node admitted while the dead node lived, which it was
 *       to copy itself and may have died first ({@link Mddev#fillSkippedSlot},
 *       docs/lessons.md §57);</li>
 *   <li>{@code copyFromSlot(dead, clearSource = true)}: every set bit becomes a NEEDED chunk of
 *       this node's bitmap, durable in our slot before the dead slot is cleared;</li>
 *   <li>if anything was found dirty (the explicit flag, never {@code hi > 0}: docs/lessons.md §17), lower
 *       the array's resync point to the first dirty sector, which asks the md thread to resync;
 *       the sync thread takes the {@code resync} lock in EX before it touches a leg;</li>
 *   <li>release the lock.</li>
 * </ol>
 * Every survivor runs this for the same slot; the first to get PW moves the bits and resyncs
 * them, the others find the slot clean and do nothing. The episode is for one life of the slot's
 * member ({@link MemberId}): a node leaving with BITMAP_NEEDS_SYNC is still a member in that slot
 * while we wait, and is waited for (docs/md-cluster-protocol.md §d.3); a member with another
 * incarnation in the slot while we wait is a new owner, which loads the bits as its own once it
 * has the lock, so we stop waiting without touching them.
 *
 * <p>Not thread-safe: run by one thread ({@code cluster-recover-<array>}).
 */
final class NodeRecovery {
    private static final Logger log = LoggerFactory.getLogger(NodeRecovery.class);
    /** How often a long wait for the dead slot's lock is logged and the slot's owner re-checked. */
    private static final Duration SLICE = Duration.ofSeconds(1);

    /** What one episode ended with. */
    record Outcome(NodeSlot slot, SlotCopy copy, boolean reclaimed) {}

    private final MemberId gone;
    private final NodeSlot dead;
    private final LockSpace lockSpace;
    private final WriteIntentBitmap bitmap;
    private final Mddev array;
    private final Duration lockWait;
    private final Consumer<SlotCopy> copied;

    /** @param copied told of the copy as soon as it is durable, before the resync is asked for */
    NodeRecovery(
            MemberId gone,
            LockSpace lockSpace,
            WriteIntentBitmap bitmap,
            Mddev array,
            Duration lockWait,
            Consumer<SlotCopy> copied) {
        this.gone = gone;
        this.dead = gone.slot();
        this.lockSpace = lockSpace;
        this.bitmap = bitmap;
        this.array = array;
        this.lockWait = lockWait;
        this.copied = copied;
    }

    /**
     * Runs the episode.
     *
     * @throws InterruptedException the node is leaving; the request was withdrawn
     * @throws DlmException the lock could not be taken within the bound (the caller retries)
     * @throws BitmapException the dead slot could not be read or ours written (the source is
     *     left as it was; the caller retries)
     * @throws Raid1Exception the slot could not be copied onto a leg that lacks it (the caller
     *     retries)
     */
    Outcome run() throws InterruptedException, DlmException, BitmapException, Raid1Exception {
        try (LockResource lock = lockSpace.resource(dead.bitmapLockName())) {
            // once granted, the slot is ours alone: a new member queued behind us has loaded nothing yet
            if (!acquire(lock)) {
                log.info("{}: {} has a new owner, which recovers its bits itself", array.name(), gone);
                return new Outcome(dead, null, true);
            }
            ResyncInfo.clearIn(lock); // the dead node's window, if any, is over
            matchOurSize();
            // before the slot is read here, or freed for the next node that joins into it
            array.fillSkippedSlot(dead.number());
            SlotCopy copy = bitmap.copyFromSlot(dead.number(), true);
            copied.accept(copy);
            if (copy.foundDirty()) {
                log.info(
                        "{}: moved {} dirty chunks of {} into our bitmap; resync from sector {}",
                        array.name(),
                        copy.dirtyChunks(),
                        dead,
                        copy.dirtyRange().start());
                array.lowerRecoveryCp(copy.dirtyRange().start());
            } else {
                log.info("{}: {} was clean (recovered by another node, or nothing was in flight)", array.name(), dead);
            }
            return new Outcome(dead, copy, false);
        }
    }

    /**
     * A node that died growing the array resized its own slot before any other (§f.7 step 2): the
     * slot is made to record our size, so its bits can be merged here, and so a node that joins into
     * it later finds it at the size of the others (docs/lessons.md §62). Bits beyond our end belong
     * to a region this node does not serve; if the grow is finished later, that region is resynced
     * from the NEEDED chunks of every node's own slot.
     */
    private void matchOurSize() throws BitmapException {
        long ours = bitmap.geometry().syncSize();
        long theirs = SlotSizes.syncSize(bitmap, dead.number());
        if (theirs == ours) return;
        log.info("{}: {} records {} sectors, ours {}: resized to ours", array.name(), dead, theirs, ours);
        SlotSizes.resizeFree(bitmap, dead.number(), ours);
    }

    /** PW on the dead slot's lock; false when the slot was taken by a new member meanwhile. */
    private boolean acquire(LockResource lock) throws InterruptedException, DlmException {
        CompletableFuture<LockGrant> grant = lock.convertAsync(LockMode.PW);
        long deadline = System.nanoTime() + lockWait.toNanos();
        boolean done = false;
        try {
            while (true) {
                try {
                    grant.get(SLICE.toMillis(), TimeUnit.MILLISECONDS);
                    done = true;
                    return true;
                } catch (TimeoutException e) {
                    if (newOwner()) return false;
                    if (System.nanoTime() - deadline > 0) {
                        throw new DlmException(
                                DlmException.Code.TIMEOUT,
                                "no PW on " + dead.bitmapLockName() + " after " + lockWait.toMillis() + " ms");
                    }
                    log.info("{}: still waiting for {} in PW", array.name(), dead.bitmapLockName());
                } catch (ExecutionException e) {
                    done = true;
                    if (e.getCause() instanceof DlmException d) throw d;
                    throw new DlmException(
                            DlmException.Code.UNAVAILABLE,
                            "requesting " + dead.bitmapLockName() + ": " + e.getCause(),
                            e.getCause());
                }
            }
        } finally {
            if (!done) withdraw(lock);
        }
    }

    /** Whether a member other than the one we recover holds the slot now (the same one may still be leaving). */
    private boolean newOwner() {
        Optional<MemberId> now = lockSpace.memberIn(dead);
        return now.isPresent() && !now.get().equals(gone);
    }

    /** Cancels the pending request; a grant that won the race is released by the caller's close. */
    private static void withdraw(LockResource lock) {
        try {
            lock.cancel();
        } catch (DlmException e) {
            log.debug("cancelling {}: {}", lock.name(), e.getMessage());
        }
    }
}
