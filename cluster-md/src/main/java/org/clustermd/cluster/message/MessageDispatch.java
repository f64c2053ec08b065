package org.clustermd.cluster.message;

import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a receiver does with the value block of {@code message} (docs/md-cluster-protocol.md
 * §b.4 step 2): decode it, refuse what is not valid, malformed, unknown or carries our own slot
 * (no ack, as md returns an error from process_recvd_msg), and hand the rest to the handler, whose
 * failure is logged and acknowledged as md does.
 *
 * <p>Thread-safe if the handler is.
 */
final class MessageDispatch {
    private static final Logger log = LoggerFactory.getLogger(MessageChannel.class);

    private final String arrayName;
    private final LockSpace lockSpace;
    private final MessageHandler handler;

    MessageDispatch(String arrayName, LockSpace lockSpace, MessageHandler handler) {
        this.arrayName = arrayName;
        this.lockSpace = lockSpace;
        this.handler = handler;
    }

    Disposition process(LockValueBlock lvb) {
        if (!lvb.isValid()) {
            log.warn(
                    "{}: refusing a message whose value block is not valid (its sender died while writing it)",
                    arrayName);
            return Disposition.REFUSED;
        }
        Envelope e;
        try {
            e = MessageCodec.decode(lvb.toByteArray(), lockSpace.slotCount());
        } catch (Raid1Exception x) {
            log.warn("{}: {} (bytes {})", arrayName, x.getMessage(), lvb.toHex());
            return Disposition.REFUSED;
        }
        if (e.senderSlot() == lockSpace.slot().number()) {
            // md warns and returns an error: no ack, so whoever sent it under our slot learns of it
            log.warn("{}: ignoring {} carrying our own slot {}", arrayName, e.message(), e.senderSlot());
            return Disposition.REFUSED;
        }
        try {
            Disposition d = handler.handle(e);
            if (d == Disposition.REFUSED)
                log.warn("{}: refused {} from slot {}", arrayName, e.message(), e.senderSlot());
            return d;
        } catch (Raid1Exception | RuntimeException x) {
            log.error(
                    "{}: handling {} from slot {} failed (acknowledged all the same, as md does): {}",
                    arrayName,
                    e.message(),
                    e.senderSlot(),
                    x.toString());
            return Disposition.PROCESSED;
        }
    }
}
