package org.clustermd.cluster.message;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * md's "lock_comm" held: this node's one send slot, {@code token} in EX and the receive mutex.
 * Not owned by a thread: the admin thread may take it for an add and the md thread use and
 * release it in the superblock update that commits the add (md's SEND_LOCKED_ALREADY,
 * {@code docs/md-cluster-protocol.md §f.1}). Released exactly once; {@link #close()} again does
 * nothing.
 */
public final class SendPermit implements AutoCloseable {
    private final MessageChannel channel;
    private final AtomicBoolean released = new AtomicBoolean();
    /** {@code message} EX was taken with the token, for the first send. */
    private final AtomicBoolean messageHeld;
    /** The token went to NL with a broadcast's last write; close leaves it. */
    private volatile boolean tokenReleased;

    SendPermit(MessageChannel channel, boolean messageHeld) {
        this.channel = channel;
        this.messageHeld = new AtomicBoolean(messageHeld);
    }

    /** True once, if {@code message} EX came with the token: the send need not take it. */
    boolean takeMessage() {
        return messageHeld.getAndSet(false);
    }

    void tokenReleased() {
        tokenReleased = true;
    }

    boolean held() {
        return !released.get();
    }

    boolean belongsTo(MessageChannel c) {
        return channel == c;
    }

    /** Releases the token and the local exclusions (md's unlock_comm). */
    @Override
    public void close() {
        if (released.compareAndSet(false, true)) channel.unlockComm(this, tokenReleased);
    }
}
