package org.clustermd.cluster.message;

import java.time.Duration;
import java.util.Objects;

/**
 * The bounds of the message channel, a strict hierarchy so that an inner wait always runs out
 * before the wait that covers it and reports the real cause ({@code docs/lessons.md §10}):
 * {@code handler < ack < token}, and the engine's admin wait ({@code ArrayOptions.ioWait},
 * which covers a superblock update with its broadcast) above {@code token}.
 *
 * @param handler how long a receiver may take to process one message (a drain, a reload)
 * @param ack how long a sender waits for every peer to acknowledge; also longer than the
 *     session timeout, so a peer that dies mid-broadcast is purged before the sender gives up
 * @param token how long a node waits for the token (another node's broadcast or superblock
 *     update runs under it) and for any other conversion of the channel's locks
 */
public record ChannelBounds(Duration handler, Duration ack, Duration token) {
    public ChannelBounds {
        Objects.requireNonNull(handler, "handler");
        Objects.requireNonNull(ack, "ack");
        Objects.requireNonNull(token, "token");
        if (handler.isNegative() || handler.isZero())
            throw new IllegalArgumentException("handler bound must be positive: " + handler);
        if (handler.compareTo(ack) >= 0 || ack.compareTo(token) >= 0) {
            throw new IllegalArgumentException("the channel bounds must be handler < ack < token, got handler "
                    + handler + ", ack " + ack + ", token " + token);
        }
    }

    /** From the lockspace's request timeout (the token wait): ack at 2/3 of it, handler at 1/3. */
    public static ChannelBounds fromTokenWait(Duration token) {
        return new ChannelBounds(token.dividedBy(3), token.multipliedBy(2).dividedBy(3), token);
    }
}
