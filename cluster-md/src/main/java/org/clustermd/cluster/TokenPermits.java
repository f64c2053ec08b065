package org.clustermd.cluster;

import java.util.UUID;
import java.util.concurrent.Semaphore;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.cluster.message.SendPermit;
import org.clustermd.raid1.ClusterOperations;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.LoggerFactory;

/**
 * The {@code token} permits a {@link ClusterCoordinator} holds across engine calls: the one of
 * the superblock update in progress (md's {@code metadata_update_start} to {@code _finish} or
 * {@code _cancel}), and the one an accepted NEWDISK keeps for the update that commits the add
 * (md's SEND_LOCKED_ALREADY). An update that starts while an add's permit is held takes that
 * permit over instead of asking for the token again, which it could not get.
 *
 * <p>A size change's permit (docs/lessons.md §61) is held by the grower's admin thread from its
 * prepare to its end and shared with the md thread's superblock updates in between, one sender
 * at a time ({@code sizePermitUse}); it is released only by {@link #sizeChangeEnd}.
 *
 * <p>Thread-safety: a permit is set only by the thread that holds the token through it, and
 * only one thread of this node holds the token at a time, so the fields need no lock; they are
 * volatile because the add's permit is handed from the thread that added to the one that
 * commits, and leave cancels both from yet another. The caller checks membership first.
 */
final class TokenPermits {
    private final ClusterCoordinator owner;
    /** The permit of the superblock update in progress (md thread), from metadataUpdateStart to finish or cancel. */
    private volatile SendPermit metadataPermit;
    /** md's SEND_LOCKED_ALREADY: the permit an accepted add keeps for the update that commits it. */
    private volatile SendPermit addPermit;
    /** The dev_number of the add that holds addPermit; written before addPermit, read after it. */
    private volatile int addDevNumber;
    /**
     * The permit a size change holds from its prepare to CHANGE_CAPACITY or its undo; the
     * superblock updates in between send on it without releasing it (docs/lessons.md §61).
     */
    private volatile SendPermit sizePermit;
    /** One sender at a time on sizePermit: the md thread's update and the admin thread's check. */
    private final Semaphore sizePermitUse = new Semaphore(1);

    TokenPermits(ClusterCoordinator owner) {
        this.owner = owner;
    }

    /** See {@link ClusterCoordinator#metadataUpdateStart}. */
    void updateStart() throws Raid1Exception {
        SendPermit size = sizePermit;
        if (size != null) {
            acquireSizePermit();
            metadataPermit = size;
            return;
        }
        SendPermit held = addPermit;
        addPermit = null;
        metadataPermit = held != null ? held : owner.channel().lockComm();
    }

    /** See {@link ClusterCoordinator#metadataUpdateFinish}. */
    void updateFinish(int goodDevNumber) throws Raid1Exception {
        SendPermit p = takeMetadataPermit();
        try {
            owner.channel().send(p, new ClusterMessage.MetadataUpdated(goodDevNumber));
        } finally {
            release(p);
        }
    }

    void updateCancel() {
        SendPermit p = metadataPermit;
        metadataPermit = null;
        if (p != null) release(p);
    }

    /** A size change's own permit is handed back for its next use, any other released. */
    private void release(SendPermit p) {
        if (p == sizePermit) sizePermitUse.release();
        else p.close();
    }

    /** See {@link ClusterCoordinator#sizeChangeStart}. */
    void sizeChangeStart() throws Raid1Exception {
        SendPermit p = owner.channel().lockComm();
        sizePermitUse.drainPermits();
        sizePermitUse.release();
        sizePermit = p;
    }

    /** See {@link ClusterCoordinator#sizeChangeEnd}. */
    void sizeChangeEnd() {
        SendPermit p = sizePermit;
        sizePermit = null;
        if (p != null) p.close();
    }

    /**
     * Runs {@code step} on the size change's permit, or on one taken for it when no size change
     * holds one (a caller outside {@link #sizeChangeStart}).
     */
    void withSizePermit(PermitStep step) throws Raid1Exception {
        SendPermit size = sizePermit;
        if (size == null) {
            try (SendPermit p = owner.channel().lockComm()) {
                step.run(p);
            }
            return;
        }
        acquireSizePermit();
        try {
            step.run(size);
        } finally {
            sizePermitUse.release();
        }
    }

    @FunctionalInterface
    interface PermitStep {
        void run(SendPermit p) throws Raid1Exception;
    }

    private void acquireSizePermit() throws Raid1Exception {
        try {
            // the other user sends one message at most, each bounded by the channel
            sizePermitUse.acquire();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw owner.cluster("interrupted while waiting for the size change's token", e);
        }
    }

    private SendPermit takeMetadataPermit() {
        SendPermit p = metadataPermit;
        metadataPermit = null;
        if (p == null) throw new IllegalStateException("metadataUpdateFinish without metadataUpdateStart");
        return p;
    }

    /** See {@link ClusterCoordinator#addNewDisk}. */
    int addNewDisk(UUID deviceUuid, ClusterOperations.NewDiskLabel label) throws Raid1Exception {
        MessageChannel channel = owner.channel();
        SendPermit p = channel.lockComm();
        try {
            // every earlier add's commit was processed here before this token grant
            int devNumber = label.write();
            channel.send(p, new ClusterMessage.NewDisk(deviceUuid, devNumber));
            if (!channel.newDiskVote().everyPeerConfirmed()) {
                cancelVisibly(p, devNumber);
                throw owner.cluster(
                        "not every node found device " + deviceUuid + " (dev_number " + devNumber
                                + ") announced by NEWDISK: the add is refused",
                        null);
            }
            SendPermit previous = addPermit;
            addDevNumber = devNumber;
            addPermit = p;
            p = null;
            if (previous != null) previous.close();
            return devNumber;
        } finally {
            if (p != null) p.close();
        }
    }

    /** md's add_new_disk_cancel, made visible: the peers let their candidates go (see cancelVisibly). */
    void addNewDiskCancel() {
        SendPermit p = addPermit;
        addPermit = null;
        if (p == null) return;
        try {
            cancelVisibly(p, addDevNumber);
        } finally {
            p.close();
        }
    }

    /**
     * md only releases the token here, so peers that confirmed keep their candidate and stay
     * unable to veto the next add until some later update (docs/md-cluster-protocol.md §f.1).
     * A METADATA_UPDATED naming the device that was not added settles both at once on every
     * peer: nothing was written, so none reloads from it (docs/lessons.md §42).
     */
    private void cancelVisibly(SendPermit p, int devNumber) {
        try {
            owner.channel().send(p, new ClusterMessage.MetadataUpdated(devNumber));
        } catch (Raid1Exception e) {
            LoggerFactory.getLogger(ClusterCoordinator.class)
                    .warn(
                            "{}: announcing the cancelled add of dev_number {}: {}",
                            owner.arrayName(),
                            devNumber,
                            e.getMessage());
        }
    }
}
