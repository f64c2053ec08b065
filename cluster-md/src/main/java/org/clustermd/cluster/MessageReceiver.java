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
 * each message a peer broadcasts. METADATA_UPDATED (the superblock is
 * reloaded) and RESYNCING ({@link PeerResyncs}) are handled; NEWDISK is answered "not found"; the other types are refused (not acknowledged),
 * so a sender of a later build learns that this node did not act on them. Owns nothing.
 *
 * <p>Thread-safety: called on the channel's receive thread only, one message at a time. The
 * channel is read through the coordinator's volatile field, since it is created with this
 * handler.
 */
final class MessageReceiver implements MessageHandler {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final Mddev array;
    private final Supplier<MessageChannel> channel;
    private final PeerResyncs peers;

    MessageReceiver(Mddev array, Supplier<MessageChannel> channel, PeerResyncs peers) {
        this.array = array;
        this.channel = channel;
        this.peers = peers;
    }

    @Override
    public Disposition handle(Envelope e) throws Raid1Exception {
        if (e.message() instanceof ClusterMessage.MetadataUpdated m) {
            channel.get().rearmNoNewDev();
            array.reloadSuperblock(m.devNumber());
            return Disposition.PROCESSED;
        }
        if (e.message() instanceof ClusterMessage.Resyncing r) {
            peers.resyncing(e.senderSlot(), r.lo(), r.hi());
            return Disposition.PROCESSED;
        }
        if (e.message() instanceof ClusterMessage.NewDisk n) {
            // md's "--cluster-confirm N:missing": no device locator yet, so this node cannot find it
            log.warn(
                    "{}: slot {} adds device {} (dev_number {}); this build cannot look devices up, so it answers not found",
                    array.name(),
                    e.senderSlot(),
                    n.deviceUuid(),
                    n.devNumber());
            channel.get().answerNewDisk(false);
            return Disposition.PROCESSED;
        }
        log.warn(
                "{}: {} from slot {} is not handled by this build",
                array.name(),
                e.message().type(),
                e.senderSlot());
        return Disposition.REFUSED;
    }
}
