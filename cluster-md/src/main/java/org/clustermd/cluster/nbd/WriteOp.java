package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.function.BiConsumer;

/**
 * One WRITE from the end of its payload until its reply is queued, in one object its connection
 * reuses: the target's future completes it directly ({@code whenComplete(op)}), it carries
 * itself to the loop through the connection's {@link CompletionQueue} and stands in
 * {@link UnfinishedWrites} while the target has it. So a write costs the export no future,
 * lambda, set entry or queue node of its own (docs/nbd-cost.md).
 *
 * <p>Fields are written on the loop before the write goes to the target, {@link #failure} on
 * the target's thread before the queue's atomic push; the future's and the queue's atomics
 * order those steps, so no field needs to be volatile.
 */
final class WriteOp implements BiConsumer<Void, Throwable> {
    private final NbdConnection connection;
    long handle;
    long offset;
    long length;
    ByteBuffer buf;
    /** Issued on the network thread, so it holds one of the server's inline-write permits. */
    boolean inline;

    Throwable failure;
    /** Issue order on the connection, for a FLUSH to know which writes came before it. */
    long seq;
    /** {@link UnfinishedWrites}' links, loop only. */
    WriteOp older;

    WriteOp newer;
    /** The next op in the {@link CompletionQueue}'s stack. */
    WriteOp nextDone;

    WriteOp(NbdConnection connection) {
        this.connection = connection;
    }

    void start(long handle, long offset, long length, ByteBuffer buf) {
        this.handle = handle;
        this.offset = offset;
        this.length = length;
        this.buf = buf;
        this.inline = false;
        this.failure = null;
    }

    /** The target finished the write (any thread). */
    @Override
    public void accept(Void ignored, Throwable t) {
        failure = t;
        connection.writeCompleted(this);
    }
}
