package org.clustermd.cluster.message;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockValueBlock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's recv_daemon for one message, on the channel's receive thread with the receive mutex held
 * (docs/md-cluster-protocol.md §b.4): {@code message} CR to read it, dispatch, {@code ack} NL
 * with the queued PR, then {@code ack} CR and {@code message} NL, each step with the fewest
 * writes the locks allow.
 *
 * <p>Not thread-safe: only the receive thread calls {@link #receiveOne}; the counters are.
 */
final class ReceiveSteps {
    private static final Logger log = LoggerFactory.getLogger(MessageChannel.class);

    private final String arrayName;
    private final LockSpace lockSpace;
    private final ChannelBounds bounds;
    private final LockResource message;
    private final LockResource ack;
    private final MessageDispatch dispatch;
    private final LockSteps steps;
    private final AtomicLong received = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();

    ReceiveSteps(
            String arrayName,
            LockSpace lockSpace,
            ChannelBounds bounds,
            LockResource message,
            LockResource ack,
            MessageDispatch dispatch,
            LockSteps steps) {
        this.arrayName = arrayName;
        this.lockSpace = lockSpace;
        this.bounds = bounds;
        this.message = message;
        this.ack = ack;
        this.dispatch = dispatch;
        this.steps = steps;
    }

    long received() {
        return received.get();
    }

    long refused() {
        return refused.get();
    }

    /** md's recv_daemon, one message: every lock back at its idle mode (ack CR, message NL) when it returns. */
    void receiveOne() {
        boolean acked = false;
        try {
            LockValueBlock lvb =
                    steps.convert(message, LockMode.CR, bounds.token()).valueBlock();
            Disposition d = dispatch.process(lvb);
            if (d == Disposition.PROCESSED) {
                // ack dropped and message PR queued in one write; the PR waits until the sender
                // dropped CW, so ack is re-armed only after its EX is done (docs/lessons.md §1)
                acked = true;
                steps.jointly(
                        bounds.token(), Conversion.now(ack, LockMode.NL), Conversion.queued(message, LockMode.PR));
                received.incrementAndGet();
            } else {
                refused.incrementAndGet();
            }
        } catch (DlmException e) {
            if (steps.alive()) log.error("{}: receiving a message failed: {}", arrayName, e.getMessage());
        } finally {
            if (acked && rearmAckAndRelease()) return;
            if (acked) rearmAck();
            try {
                steps.convert(message, LockMode.NL, bounds.token());
            } catch (DlmException e) {
                if (steps.alive())
                    log.error("{}: releasing the message lock after a receive: {}", arrayName, e.getMessage());
            }
        }
    }

    /**
     * After a message: {@code ack} NL to CR and {@code message} PR to NL in one write, when the
     * CR is granted at once (the sender's EX went back to CR in the same write that let our PR
     * in). False when that write was not made or failed; the caller then takes the steps one at
     * a time, from what the locks hold once a failure that may have written was settled.
     */
    boolean rearmAckAndRelease() {
        if (ack.grantedMode().orElse(null) != LockMode.NL
                || message.grantedMode().orElse(null) != LockMode.PR) return false;
        List<Conversion> both = List.of(Conversion.now(ack, LockMode.CR), Conversion.now(message, LockMode.NL));
        try {
            lockSpace.convertJointly(both, bounds.token());
            return true;
        } catch (DlmException e) {
            if (LockSteps.wroteNothing(e)) return false;
            // it may have written (SUSPENDED: its grants came after the lease lapsed): the steps
            // that follow start from what is held, a lock already in its mode costing no write
            boolean known = steps.settle(bounds.token(), both);
            if ((e.code() != DlmException.Code.SUSPENDED || !known) && steps.alive())
                log.warn("{}: re-arming ack after a message: {}", arrayName, e.getMessage());
            return false;
        }
    }

    void rearmAck() {
        try {
            steps.convert(ack, LockMode.CR, bounds.token());
        } catch (DlmException e) {
            if (steps.alive())
                log.error(
                        "{}: re-arming ack failed; this node misses messages until it rejoins: {}",
                        arrayName,
                        e.getMessage());
        }
    }
}
