package org.clustermd.cluster;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.Disposition;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The receive side of md's device changes (docs/md-cluster-protocol.md §f.1, §f.3, §f.4) for a
 * {@link MessageReceiver}: NEWDISK (find the device through the embedder's
 * {@link DeviceLocator}, confirm or refuse it through {@code no-new-dev}), the
 * METADATA_UPDATED that commits or cancels it, REMOVE and RE_ADD. Owns the one device a peer
 * announced and this node holds as a candidate, and its {@link CandidateState}: PENDING from
 * the confirm, then CONFIRMED (handed to the array as a spare) or CANCELLED (closed).
 *
 * <p>A candidate takes no writes: it is not the array's until the METADATA_UPDATED that commits
 * the add. That update wrote the candidate's superblock (every non-faulty member's is written),
 * so newer events on it than when NEWDISK came mean committed. A METADATA_UPDATED that names
 * the announced device's own number is the adder's cancel (docs/lessons.md §42): nothing was
 * written, nothing is reloaded.
 *
 * <p>Thread-safety: called on the channel's receive thread only, one message at a time, so the
 * candidate needs no lock. The locator runs on a thread of its own, waited for at most
 * {@link #NEW_DEV_TIMEOUT}; one that never returns keeps only that thread.
 */
final class DeviceChanges {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    /** md's NEW_DEV_TIMEOUT: how long a receiver looks for the device before it refuses. */
    static final Duration NEW_DEV_TIMEOUT = Duration.ofSeconds(5);

    private final Mddev array;
    private final Supplier<MessageChannel> channel;
    private final DeviceLocator locator;
    private final ClusterListener listener;
    private final WaitingForSync waiting;

    /** The number the last NEWDISK announced until a METADATA_UPDATED settles it; -1 for none. */
    private int announced = -1;
    /** The device held for that NEWDISK, when this node found it; null otherwise. */
    private Candidate candidate;

    /** A device found for a NEWDISK, held open; {@code eventsThen} are the array's when it came. */
    private static final class Candidate {
        final UUID deviceUuid;
        final int devNumber;
        final BlockDevice device;
        final long eventsThen;
        CandidateState state = CandidateState.PENDING;

        Candidate(UUID deviceUuid, int devNumber, BlockDevice device, long eventsThen) {
            this.deviceUuid = deviceUuid;
            this.devNumber = devNumber;
            this.device = device;
            this.eventsThen = eventsThen;
        }
    }

    DeviceChanges(
            Mddev array,
            Supplier<MessageChannel> channel,
            DeviceLocator locator,
            ClusterListener listener,
            WaitingForSync waiting) {
        this.array = array;
        this.waiting = waiting;
        this.channel = channel;
        this.locator = locator;
        this.listener = listener;
    }

    // ------------------------------------------------------------------ NEWDISK

    /** md's process_add_new_disk with udev's confirm rule: found (no-new-dev to NL) or not (stays CR). */
    Disposition newDisk(int sender, ClusterMessage.NewDisk n) throws Raid1Exception {
        if (candidate != null) {
            // its adder never settled it (it died): back to CR first, or this node could not veto
            // the add announced now (docs/lessons.md §45)
            channel.get().newDiskVote().rearm();
            cancel(candidate, "a newer NEWDISK came before this one was settled");
        }
        announced = n.devNumber();
        Lookup found = locate(n.deviceUuid());
        String refusal = found.refusal();
        BlockDevice device = null;
        if (refusal == null) {
            try {
                device = BlockDevices.open(found.path());
                refusal = mismatch(device, n);
            } catch (IOException e) {
                refusal = "opening " + found.path() + " failed: " + e.getMessage();
            }
        }
        if (refusal != null) {
            closeQuietly(device);
            log.warn(
                    "{}: slot {} adds device {} as dev_number {}: {}; refused",
                    array.name(),
                    sender,
                    n.deviceUuid(),
                    n.devNumber(),
                    refusal);
            listener.deviceCandidate(n.deviceUuid(), n.devNumber(), CandidateState.NOT_FOUND, refusal);
            return Disposition.PROCESSED;
        }
        Candidate c = new Candidate(n.deviceUuid(), n.devNumber(), device, array.events());
        try {
            channel.get().newDiskVote().answer(true);
        } catch (Raid1Exception | RuntimeException e) {
            closeQuietly(device);
            throw e;
        }
        candidate = c;
        // md's process_add_new_disk: no spare is activated here until a sync starts (docs/lessons.md §14)
        waiting.newDiskConfirmed(sender);
        log.info(
                "{}: slot {} adds {} as dev_number {}: found, held as a candidate",
                array.name(),
                sender,
                device.name(),
                n.devNumber());
        listener.deviceCandidate(c.deviceUuid, c.devNumber, CandidateState.PENDING, "found at " + device.name());
        return Disposition.PROCESSED;
    }

    /** The locator's answer: a path, or why there is none ({@code refusal} non-null). */
    private record Lookup(Path path, String refusal) {
        static Lookup refused(String why) {
            return new Lookup(null, why);
        }
    }

    /** The locator's answer within NEW_DEV_TIMEOUT. */
    private Lookup locate(UUID deviceUuid) {
        CompletableFuture<Optional<Path>> f = new CompletableFuture<>();
        Thread t = new Thread(
                () -> {
                    try {
                        f.complete(locator.locate(array.uuid(), deviceUuid));
                    } catch (IOException | RuntimeException e) {
                        f.completeExceptionally(e);
                    }
                },
                "device-locate-" + array.name());
        t.setDaemon(true);
        t.start();
        try {
            return f.get(NEW_DEV_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
                    .map(p -> new Lookup(p, null))
                    .orElse(Lookup.refused("not found here"));
        } catch (TimeoutException e) {
            return Lookup.refused("the locator did not answer within " + NEW_DEV_TIMEOUT.toMillis() + " ms");
        } catch (ExecutionException e) {
            return Lookup.refused("the locator failed: " + e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return Lookup.refused("interrupted while looking for it");
        }
    }

    /** Why the found device cannot be this NEWDISK's, or null when it can. */
    private String mismatch(BlockDevice device, ClusterMessage.NewDisk n) throws IOException {
        Superblock sb = SuperblockCodec.read(device);
        if (!sb.setUuid().equals(array.uuid())) return device.name() + " belongs to array " + sb.setUuid();
        if (!sb.deviceUuid().equals(n.deviceUuid())) return device.name() + " carries device " + sb.deviceUuid();
        if (sb.devNumber() != n.devNumber())
            return device.name() + " carries dev_number " + sb.devNumber() + ", not " + n.devNumber();
        if (array.deviceInUse(n.devNumber(), n.deviceUuid()))
            return "dev_number " + n.devNumber() + " or its device is a member here already";
        return null;
    }

    // ------------------------------------------------------------------ METADATA_UPDATED

    /**
     * md's process_metadata_update: {@code no-new-dev} back to CR, then the add announced before
     * settled (committed: the candidate becomes a spare; else let go), then the reload, unless
     * this was the adder's cancel.
     */
    void metadataUpdated(int devNumber) throws Raid1Exception {
        channel.get().newDiskVote().rearm();
        boolean cancelOfAnnounced = false;
        if (announced >= 0) {
            Candidate c = candidate;
            boolean committed = c != null && committed(c);
            if (c != null) {
                if (committed) adopt(c);
                else cancel(c, "the adder cancelled the add");
            }
            cancelOfAnnounced = !committed && devNumber == announced;
            if (cancelOfAnnounced) waiting.addCancelled();
            announced = -1;
        }
        if (!cancelOfAnnounced) array.reloadSuperblock(devNumber);
    }

    private boolean committed(Candidate c) {
        try {
            Superblock sb = SuperblockCodec.read(c.device);
            return sb.deviceUuid().equals(c.deviceUuid)
                    && sb.devNumber() == c.devNumber
                    && Long.compareUnsigned(sb.events(), c.eventsThen) > 0;
        } catch (IOException e) {
            log.warn("{}: re-reading candidate {}: {}", array.name(), c.device.name(), e.getMessage());
            return false;
        }
    }

    private void adopt(Candidate c) {
        candidate = null;
        try {
            array.clusterAdd(c.device);
        } catch (Raid1Exception | RuntimeException e) {
            closeQuietly(c.device);
            settle(c, CandidateState.CANCELLED, "the array refused it: " + e.getMessage());
            return;
        }
        settle(c, CandidateState.CONFIRMED, "the add was committed");
    }

    private void cancel(Candidate c, String why) {
        candidate = null;
        closeQuietly(c.device);
        settle(c, CandidateState.CANCELLED, why);
    }

    private void settle(Candidate c, CandidateState to, String why) {
        if (c.state != CandidateState.PENDING) throw new IllegalStateException(c.state + " -> " + to);
        c.state = to;
        if (to == CandidateState.CANCELLED)
            log.warn("{}: candidate {} (dev_number {}) cancelled: {}", array.name(), c.device.name(), c.devNumber, why);
        else log.info("{}: candidate {} is a spare now (dev_number {})", array.name(), c.device.name(), c.devNumber);
        listener.deviceCandidate(c.deviceUuid, c.devNumber, to, why);
    }

    // ------------------------------------------------------------------ REMOVE, RE_ADD

    /** md's process_remove_disk: the array drops the device once it holds no role. */
    Disposition remove(ClusterMessage.Remove r) {
        array.clusterRemove(r.devNumber());
        return Disposition.PROCESSED;
    }

    /**
     * md's process_readd_disk: this node writes to the device again. md's receivers only clear
     * Faulty; here a receiver's md thread may recover the device too, and whichever node
     * finishes marks it in sync everywhere, so every node first merges every slot's bits as the
     * re-adder did: any node's recovery then copies every chunk any node changed
     * (docs/lessons.md §43).
     */
    Disposition reAdd(ClusterMessage.ReAdd r) throws Raid1Exception {
        Optional<WriteIntentBitmap> bitmap = array.bitmap();
        if (bitmap.isPresent())
            DeviceMessages.mergeOtherSlots(
                    array, bitmap.get(), bitmap.get().superblock().nodes());
        array.clusterReAdd(r.devNumber());
        return Disposition.PROCESSED;
    }

    /** Lets a pending candidate go: the channel closed (leave), nothing is received any more. */
    void close() {
        Candidate c = candidate;
        if (c != null) cancel(c, "this node is leaving");
    }

    private static void closeQuietly(BlockDevice d) {
        if (d == null) return;
        try {
            d.close();
        } catch (IOException e) {
            // the candidate was only read; nothing to lose
        }
    }
}
