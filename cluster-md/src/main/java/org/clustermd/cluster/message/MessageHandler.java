package org.clustermd.cluster.message;

import org.clustermd.raid1.Raid1Exception;

/**
 * The receive side's dispatch (md's {@code process_recvd_msg}), called on the channel's receive
 * thread, one message at a time, never before {@link MessageChannel#startHandling()}. It must
 * finish within {@link ChannelBounds#handler()} and must not wait for anything a local thread
 * holds while it waits for the token ({@code docs/lessons.md §9}).
 */
@FunctionalInterface
public interface MessageHandler {
    /**
     * Acts on {@code envelope} (never one from this node's own slot).
     *
     * @return PROCESSED to acknowledge it, REFUSED to withhold the acknowledgement
     * @throws Raid1Exception if processing failed: logged, and acknowledged all the same, as md
     *     logs and returns from a failed reload
     */
    Disposition handle(Envelope envelope) throws Raid1Exception;

    /** The channel closed and its receive thread stopped: release what handling holds. Never throws. */
    default void closed() {}
}
