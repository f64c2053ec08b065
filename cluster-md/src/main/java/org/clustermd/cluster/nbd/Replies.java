package org.clustermd.cluster.nbd;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import java.nio.ByteBuffer;

/**
 * Writes a connection's simple replies on its event loop. Between {@link #startGathering} and
 * {@link #endGathering} (a drain of completions) the 16-byte headers of data-less replies are
 * appended to one buffer that goes to the socket as one write with one listener, instead of a
 * buffer, a promise and a listener per reply (docs/nbd-cost.md); a READ's reply, header then
 * data, is written as it comes, whole, so gathering only reorders replies among themselves,
 * which NBD allows (the client matches them by handle). A request counts as in flight until
 * its reply is on the socket; {@link Finished} hears of it then.
 *
 * <p>Not thread-safe: the connection's event loop owns it.
 */
final class Replies {
    /** Requests whose replies left (or could not: the channel closed). */
    @FunctionalInterface
    interface Finished {
        void finished(int requests, long bytes);
    }

    /** Replies gathered before the buffer grows (a connection's default queue depth). */
    private static final int GATHER_HINT = 64;

    private final ChannelHandlerContext ctx;
    private final Finished finished;
    private ByteBuf gathered;
    private int gatheredRequests;
    private long gatheredBytes;
    private boolean gathering;

    Replies(ChannelHandlerContext ctx, Finished finished) {
        this.ctx = ctx;
        this.finished = finished;
    }

    void startGathering() {
        gathering = true;
    }

    /** Writes what was gathered, in one buffer, and flushes. */
    void endGathering() {
        gathering = false;
        if (gathered != null) {
            ByteBuf out = gathered;
            int n = gatheredRequests;
            long bytes = gatheredBytes;
            gathered = null;
            gatheredRequests = 0;
            gatheredBytes = 0;
            ctx.write(out).addListener(f -> finished.finished(n, bytes));
        }
        ctx.flush();
    }

    /** A reply without data: success when {@code error} is null; {@code bytes} were the request's. */
    void simple(long handle, NbdError error, long bytes) {
        if (gathering) {
            if (gathered == null) gathered = ctx.alloc().buffer(GATHER_HINT * NbdProtocol.SIMPLE_REPLY_HEADER);
            NbdCodec.writeSimpleReply(gathered, error, handle);
            gatheredRequests++;
            gatheredBytes += bytes;
            return;
        }
        ByteBuf header = ctx.alloc().buffer(NbdProtocol.SIMPLE_REPLY_HEADER);
        NbdCodec.writeSimpleReply(header, error, handle);
        ctx.write(header).addListener(f -> finished.finished(1, bytes));
        ctx.flush();
    }

    /** A successful READ's reply; {@code release} gives {@code data} back once it is on the socket. */
    void read(long handle, ByteBuffer data, long bytes, Runnable release) {
        ByteBuf header = ctx.alloc().buffer(NbdProtocol.SIMPLE_REPLY_HEADER);
        NbdCodec.writeSimpleReply(header, null, handle);
        ctx.write(header);
        // the wrapper does not own the pooled buffer: it goes back to the pool once it is on the socket
        ctx.write(Unpooled.wrappedBuffer(data)).addListener(f -> {
            release.run();
            finished.finished(1, bytes);
        });
        if (!gathering) ctx.flush();
    }
}
