package org.clustermd.cluster;

import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.cluster.message.SendPermit;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.ClusterOperations;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;

/**
 * The send sides of md's device changes for a {@link ClusterCoordinator}: REMOVE
 * ({@code remove_disk}) and RE_ADD with the merge of every other slot's bits into ours
 * ({@code gather_bitmaps}); the answer to a peer's NEWDISK ({@code new_disk_ack}) is
 * {@link DeviceChanges}'. NEWDISK itself goes with the token held
 * across calls, {@link TokenPermits}'. Owns nothing: the channel and the array are the
 * coordinator's, read through its volatile fields when a call comes (after join).
 *
 * <p>Thread-safety: called on whichever thread runs md's device operation; stateless, and the
 * channel is itself thread-safe.
 */
final class DeviceMessages {
    private final Supplier<MessageChannel> channel;
    private final Supplier<Mddev> array;

    DeviceMessages(Supplier<MessageChannel> channel, Supplier<Mddev> array) {
        this.channel = channel;
        this.array = array;
    }

    /** See {@link ClusterCoordinator#removeDisk}. */
    void removeDisk(int devNumber) throws Raid1Exception {
        channel.get().broadcast(new ClusterMessage.Remove(devNumber));
    }

    /**
     * See {@link ClusterCoordinator#gatherBitmaps}; {@code ls} is the member's lockspace. The
     * check runs under the token, after every earlier sender's message was processed here (a
     * peer's RE_ADD of the same device among them), and RE_ADD goes on the same permit: two
     * re-adds of one device are ordered, and the second one's check refuses it before it writes
     * anything to the device (docs/lessons.md §67). The merge needs no token, as md's.
     */
    void gatherBitmaps(LockSpace ls, int devNumber, ClusterOperations.ReAddCheck check, WriteIntentBitmap bitmap)
            throws Raid1Exception {
        MessageChannel c = channel.get();
        try (SendPermit p = c.lockComm()) {
            check.run();
            c.send(p, new ClusterMessage.ReAdd(devNumber));
        }
        if (bitmap != null) mergeOtherSlots(array.get(), bitmap, ls.slotCount());
    }

    /** The slots of the live members other than this node ({@code ls} null before join). */
    static Set<Integer> peerSlots(Set<NodeSlot> members, LockSpace ls) {
        if (ls == null) return Set.of();
        int own = ls.slot().number();
        return members.stream().map(NodeSlot::number).filter(n -> n != own).collect(Collectors.toUnmodifiableSet());
    }

    /**
     * gather_bitmaps' merge: every other slot's bits into ours, not cleared there, and
     * recovery_cp lowered to the first, so a recovery here copies every chunk any node changed.
     */
    static void mergeOtherSlots(Mddev array, WriteIntentBitmap bitmap, int slots) throws Raid1Exception {
        for (int other = 0; other < slots; other++) {
            if (other == bitmap.slot()) continue;
            try {
                SlotCopy copy = bitmap.copyFromSlot(other, false);
                if (copy.foundDirty()) array.lowerRecoveryCp(copy.dirtyRange().start());
            } catch (BitmapException e) {
                throw new Raid1Exception(
                        Raid1Exception.Code.METADATA,
                        array.name() + ": reading bitmap slot " + other + " failed: " + e.getMessage(),
                        e);
            }
        }
    }
}
