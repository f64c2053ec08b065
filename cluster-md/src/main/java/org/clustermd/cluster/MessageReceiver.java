package org.clustermd.cluster;

import java.util.function.Supplier;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.cluster.message.Disposition;
import org.clustermd.cluster.message.Envelope;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.cluster.message.MessageHandler;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code process_recvd_msg} for a {@link ClusterCoordinator}: what this build does with
 * each message a peer broadcasts. METADATA_UPDATED, NEWDISK, REMOVE and RE_ADD go to
 * {@link DeviceChanges}, RESYNCING and RESYNCING_START to {@link PeerResyncs}, BITMAP_NEEDS_SYNC to {@link HandOver},
 * CHANGE_CAPACITY to the array;
 * the other types are refused (not acknowledged), so a sender of a later build learns that this
 * node did not act on them. Owns its DeviceChanges (made with it).
 *
 * <p>Thread-safety: called on the channel's receive thread only, one message at a time.
 */
final class MessageReceiver implements MessageHandler {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final Mddev array;
    private final DeviceChanges devices;
    private final PeerResyncs peers;
    private final HandOver handOver;

    MessageReceiver(
            Mddev array,
            Supplier<MessageChannel> channel,
            DeviceLocator locator,
            ClusterListener listener,
            PeerResyncs peers,
            HandOver handOver) {
        this.array = array;
        this.devices = new DeviceChanges(array, channel, locator, listener, peers.waiting());
        this.peers = peers;
        this.handOver = handOver;
    }

    @Override
    public Disposition handle(Envelope e) throws Raid1Exception {
        if (e.message() instanceof ClusterMessage.MetadataUpdated m) {
            devices.metadataUpdated(m.devNumber());
            return Disposition.PROCESSED;
        }
        if (e.message() instanceof ClusterMessage.Resyncing r) {
            peers.resyncing(e.senderSlot(), r.lo(), r.hi());
            return Disposition.PROCESSED;
        }
        if (e.message() instanceof ClusterMessage.ResyncingStart) {
            peers.resyncStarted(e.senderSlot());
            return Disposition.PROCESSED;
        }
        if (e.message() instanceof ClusterMessage.BitmapNeedsSync) return handOver.received(e);
        if (e.message() instanceof ClusterMessage.ChangeCapacity) {
            array.changeCapacity(); // the size the last METADATA_UPDATED prepared (docs/md-cluster-protocol.md §f.7)
            return Disposition.PROCESSED;
        }
        if (e.message() instanceof ClusterMessage.NewDisk n) return devices.newDisk(e.senderSlot(), n);
        if (e.message() instanceof ClusterMessage.Remove r) return devices.remove(r);
        if (e.message() instanceof ClusterMessage.ReAdd r) return devices.reAdd(r);
        log.warn(
                "{}: {} from slot {} is not handled by this build",
                array.name(),
                e.message().type(),
                e.senderSlot());
        return Disposition.REFUSED;
    }

    @Override
    public void closed() {
        devices.close();
    }
}
