package org.clustermd.cluster.nbd;

import static org.clustermd.cluster.nbd.NbdProtocol.CMD_DISC;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLAG_FUA;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_TRIM;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.clustermd.raid1.io.IoPlug;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: reads the handshake and the requests from the socket, hands checked
 * requests to the export's target, and writes the simple replies, possibly out of order (the
 * client matches them by handle).
 *
 * <p>Rules it keeps:
 * <ul>
 * <li>A request reaches the target only after {@link Export#check} passed; anything else gets
 *     its NBD error, and garbage (a wrong magic, a WRITE longer than the maximum payload,
 *     client flags the server did not offer) a hard disconnect. A refused WRITE's payload is
 *     skipped, never buffered.</li>
 * <li>Backpressure: at most {@code maxInFlight} requests and about {@code maxInFlightBytes} of
 *     their data are in flight (from the request header until the reply is on the socket);
 *     when full, or when the socket's outbound buffer is, the connection stops reading.</li>
 * <li>A FLUSH waits for every WRITE received before it on this connection to complete, then
 *     flushes the target, so a flush acknowledgement covers every write the client sent before
 *     it, not only those already acknowledged (what the spec asks).</li>
 * <li>The target's calls that may block briefly (a bitmap bit, a resync window) run on this
 *     connection's submission thread, never on the event loop, which must not stall the other
 *     connections sharing it. A WRITE is first offered to {@link NbdTarget#tryWrite}, which
 *     issues it from the loop only when nothing has to wait; that saves the hop to the
 *     submission thread and its wake-up on the common path (docs/nbd-cost.md).</li>
 * <li>The requests decoded from one socket read are issued inside one engine submit batch,
 *     so their writes reach each leg in one {@code io_submit}.</li>
 * <li>Completions from the target's threads are queued ({@link CompletionQueue}) and drained
 *     on the loop in batches: one task, and one gathered socket write ({@link Replies}), for
 *     all replies that completed meanwhile. A write travels as its reused {@link WriteOp}. The
 *     writes issued from the loop complete on the loop itself, which reaps their disk
 *     completions ({@link LoopReaping}) at the top of each turn and after each socket read;
 *     they are queued the same way, so a reaping's replies leave together, and the reaping
 *     writes them before the loop reads again.</li>
 * </ul>
 *
 * <p>Not thread-safe: all state is owned by the channel's event loop, except the completion
 * queue that the target's threads fill.
 */
final class NbdConnection extends ChannelInboundHandlerAdapter {
    private static final Logger log = LoggerFactory.getLogger(NbdConnection.class);

    /** What the next bytes from the client are. */
    private enum Phase {
        CLIENT_FLAGS,
        OPTION_HEADER,
        OPTION_DATA,
        /** An option too long to hold: its data is skipped, then refused. */
        OPTION_SKIP,
        REQUEST_HEADER,
        WRITE_PAYLOAD,
        /** A refused WRITE: its payload is skipped, then the error is sent. */
        WRITE_SKIP,
        /** NBD_CMD_DISC or server shutdown: no more reading; close once nothing is in flight. */
        DISCONNECTING,
        CLOSED
    }

    private final Handshake handshake;
    private final BufferPool pool;
    private final NbdServer.Settings settings;
    private ChannelHandlerContext ctx;
    private String id = "nbd client";
    private ByteBuf cumulation;
    private Phase phase = Phase.CLIENT_FLAGS;
    private int option;
    private long optionLength;
    private long skipLeft;
    private Export export;
    private ExecutorService submitter;
    private NbdCodec.Request write;
    private ByteBuffer payload;
    private NbdError writeError;
    private int inFlight;
    private long inFlightBytes;
    private boolean paused;
    /** Writes handed to the target and not yet completed there; a FLUSH waits for those before it. */
    private final UnfinishedWrites unfinishedWrites = new UnfinishedWrites();
    /** Finished writes' ops, reused by the next writes (loop only). */
    private final ArrayDeque<WriteOp> spareOps = new ArrayDeque<>();
    /** The server's count of writes issued from a network thread (bounded, see NbdServer). */
    private final AtomicInteger inlineWrites;
    /** Completions waiting for the loop; filled by the target's threads. */
    private CompletionQueue completions;

    private Replies replies;
    private final Consumer<WriteOp> writeDone = this::writeDone;

    NbdConnection(
            Map<String, Export> exports, BufferPool pool, NbdServer.Settings settings, AtomicInteger inlineWrites) {
        this.handshake = new Handshake(exports);
        this.pool = pool;
        this.settings = settings;
        this.inlineWrites = inlineWrites;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        this.ctx = ctx;
        this.completions = new CompletionQueue(ctx.executor(), this::drainCompletions);
        this.replies = new Replies(ctx, this::finished);
        this.id = "nbd client " + ctx.channel().remoteAddress();
        log.debug("{}: connected", id);
        ByteBuf greeting = ctx.alloc().buffer(18);
        NbdCodec.writeGreeting(greeting);
        ctx.writeAndFlush(greeting);
        ctx.fireChannelActive();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        ByteBuf in = (ByteBuf) msg;
        if (phase == Phase.DISCONNECTING || phase == Phase.CLOSED) {
            in.release(); // nothing may follow NBD_CMD_DISC
            return;
        }
        cumulation =
                cumulation == null ? in : ByteToMessageDecoder.MERGE_CUMULATOR.cumulate(ctx.alloc(), cumulation, in);
        processBatched();
        trimCumulation();
        // Netty goes on reading while the client keeps sending (one turn, many reads): what the
        // disk finished meanwhile is reaped and answered now, between this read and the next,
        // not when the turn is over; the client holds the queue depth and gets its slots back
        // that much sooner (docs/nbd-cost.md). Here, after the batch closed and the cumulation
        // is trimmed, a drain that resumes this connection finds it between reads.
        LoopReaping.reapAndReply();
    }

    @Override
    public void channelWritabilityChanged(ChannelHandlerContext ctx) {
        resumeIfAdmissible();
        ctx.fireChannelWritabilityChanged();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        log.debug("{}: disconnected with {} requests in flight", id, inFlight);
        phase = Phase.CLOSED;
        if (cumulation != null) {
            cumulation.release();
            cumulation = null;
        }
        if (payload != null) { // a WRITE cut off mid-payload never reaches the target
            pool.release(payload);
            payload = null;
        }
        // requests already queued still run and complete; their replies go nowhere
        if (submitter != null) submitter.shutdown();
        ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        log.info("{}: closing after a connection error: {}", id, cause.toString());
        disconnect(null);
    }

    /** Server shutdown: stop reading, finish what is in flight, then close. */
    void shutdown() {
        if (phase == Phase.CLOSED) return;
        if (phase.compareTo(Phase.REQUEST_HEADER) < 0) {
            disconnect(null); // nothing in flight during the handshake
            return;
        }
        startDisconnecting();
    }

    // ------------------------------------------------------------------ decoding

    /** Consumes every whole message in the cumulation, until it runs out or the connection pauses. */
    private void process() {
        while (cumulation != null && phase != Phase.CLOSED && phase != Phase.DISCONNECTING) {
            int readable = cumulation.readableBytes();
            switch (phase) {
                case CLIENT_FLAGS -> {
                    if (readable < 4) return;
                    if (!handshake.clientFlags(cumulation.readUnsignedInt())) {
                        disconnect(handshake.problem());
                        return;
                    }
                    phase = Phase.OPTION_HEADER;
                }
                case OPTION_HEADER -> {
                    if (readable < NbdProtocol.OPTION_HEADER) return;
                    long magic = cumulation.readLong();
                    if (magic != NbdProtocol.OPTS_MAGIC) {
                        disconnect("option magic 0x" + Long.toHexString(magic) + " is not IHAVEOPT");
                        return;
                    }
                    option = cumulation.readInt();
                    optionLength = cumulation.readUnsignedInt();
                    skipLeft = optionLength;
                    phase = optionLength > settings.maxOptionData() ? Phase.OPTION_SKIP : Phase.OPTION_DATA;
                }
                case OPTION_DATA -> {
                    if (readable < optionLength) return;
                    ByteBuf data = cumulation.readSlice((int) optionLength);
                    ByteBuf out = ctx.alloc().buffer();
                    afterOption(handshake.option(option, data, out), out);
                }
                case OPTION_SKIP -> {
                    if (!skip()) return;
                    ByteBuf out = ctx.alloc().buffer();
                    afterOption(handshake.oversizedOption(option, optionLength, out), out);
                }
                case REQUEST_HEADER -> {
                    if (!admissible()) {
                        pause();
                        return;
                    }
                    if (readable < NbdProtocol.REQUEST_HEADER) return;
                    request(NbdCodec.readRequest(cumulation));
                }
                case WRITE_PAYLOAD -> {
                    int n = Math.min(readable, payload.remaining());
                    int limit = payload.limit();
                    payload.limit(payload.position() + n);
                    cumulation.readBytes(payload);
                    payload.limit(limit);
                    if (payload.hasRemaining()) return;
                    payload.position(0);
                    submitWrite();
                    phase = Phase.REQUEST_HEADER;
                }
                case WRITE_SKIP -> {
                    if (!skip()) return;
                    refuse(write, writeError);
                    write = null;
                    phase = Phase.REQUEST_HEADER;
                }
                default -> throw new IllegalStateException(phase.toString());
            }
        }
    }

    /**
     * {@link #process} inside one engine submit batch: the writes decoded from one socket read
     * go to each leg in one {@code io_submit} when the batch closes, instead of one per request
     * (docs/nbd-cost.md). Nothing in {@link #process} waits, which a batch requires (a held
     * request must never be waited for by its own thread); the engine flushes the batch itself
     * before its rare waits (an AIO slot), so a held write is never stuck. A target that is not
     * on AIO devices holds nothing.
     */
    private void processBatched() {
        try (IoPlug.Batch batch = IoPlug.batch()) {
            process();
        }
    }

    /** Skips up to {@link #skipLeft} bytes; true when all are skipped. */
    private boolean skip() {
        int n = (int) Math.min(cumulation.readableBytes(), skipLeft);
        cumulation.skipBytes(n);
        skipLeft -= n;
        return skipLeft == 0;
    }

    private void trimCumulation() {
        if (cumulation == null) return;
        if (!cumulation.isReadable()) {
            cumulation.release();
            cumulation = null;
        } else {
            cumulation.discardSomeReadBytes();
        }
    }

    private void afterOption(Handshake.Outcome outcome, ByteBuf out) {
        switch (outcome) {
            case NEXT_OPTION -> {
                ctx.writeAndFlush(out);
                phase = Phase.OPTION_HEADER;
            }
            case TRANSMISSION -> {
                ctx.writeAndFlush(out);
                export = handshake.chosen();
                String name =
                        "nbd-submit-" + export.name() + "-" + ctx.channel().remoteAddress();
                submitter = Executors.newSingleThreadExecutor(r -> {
                    Thread t = new Thread(r, name);
                    t.setDaemon(true);
                    return t;
                });
                log.debug("{}: serving export {}", id, export.name());
                phase = Phase.REQUEST_HEADER;
            }
            case CLOSE -> {
                phase = Phase.CLOSED;
                ctx.writeAndFlush(out).addListener(f -> ctx.close());
            }
            case DISCONNECT -> {
                out.release();
                disconnect(handshake.problem());
            }
        }
    }

    // ------------------------------------------------------------------ requests

    private void request(NbdCodec.Request r) {
        if (r.magic() != NbdProtocol.REQUEST_MAGIC) {
            disconnect("request magic 0x" + Integer.toHexString(r.magic()) + " is not NBD_REQUEST_MAGIC");
            return;
        }
        if (r.type() == CMD_DISC) {
            startDisconnecting();
            return;
        }
        NbdError bad = export.check(r.type(), r.flags(), r.offset(), r.length());
        if (r.type() == CMD_WRITE) {
            if (r.length() > export.maxPayload()) {
                // the payload that follows cannot be held; the spec lets the server drop such a client
                disconnect(
                        "NBD_CMD_WRITE of " + r.length() + " bytes exceeds the maximum payload " + export.maxPayload());
                return;
            }
            write = r;
            if (bad != null) {
                writeError = bad;
                skipLeft = r.length();
                phase = Phase.WRITE_SKIP;
                return;
            }
            payload = pool.acquire((int) r.length());
            begin(r.length());
            phase = Phase.WRITE_PAYLOAD;
            return;
        }
        if (bad != null) {
            refuse(r, bad);
            return;
        }
        NbdTarget target = export.target();
        switch (r.type()) {
            case CMD_READ -> {
                ByteBuffer buf = pool.acquire((int) r.length());
                begin(r.length());
                submit(() -> target.read(r.offset(), buf), failure -> {
                    if (failure == null) {
                        replies.read(r.handle(), buf, r.length(), () -> pool.release(buf));
                    } else {
                        pool.release(buf);
                        replyFailure(r.type(), r.handle(), r.offset(), r.length(), failure, r.length());
                    }
                });
            }
            case CMD_FLUSH -> {
                begin(0);
                unfinishedWrites.afterEarlierWrites(() -> submit(target::flush, failure -> reply(r, failure, 0)));
            }
            case CMD_TRIM -> {
                begin(0);
                submit(() -> target.trim(r.offset(), r.length()), failure -> reply(r, failure, 0));
            }
            default -> throw new IllegalStateException("checked request of unknown type " + r.type());
        }
    }

    private void submitWrite() {
        NbdCodec.Request r = write;
        ByteBuffer buf = payload;
        write = null;
        payload = null;
        NbdTarget target = export.target();
        boolean fua = (r.flags() & CMD_FLAG_FUA) != 0;
        WriteOp op = spareOps.poll();
        if (op == null) op = new WriteOp(this);
        op.start(r.handle(), r.offset(), r.length(), buf);
        unfinishedWrites.add(op);
        if (inlineWrites.incrementAndGet() <= NbdServer.MAX_INLINE_WRITES) {
            CompletableFuture<Void> f;
            try {
                f = target.tryWrite(r.offset(), buf, fua);
            } catch (RuntimeException e) { // the contract says never; the submission thread reports it
                f = null;
            }
            if (f != null) {
                op.inline = true;
                f.whenComplete(op); // may run op at once: op is not touched after this
                return;
            }
        }
        inlineWrites.decrementAndGet();
        WriteOp queued = op;
        try {
            submitter.execute(() -> {
                CompletableFuture<Void> f;
                try {
                    f = target.write(r.offset(), buf, fua);
                } catch (RuntimeException e) { // the contract says never; keep the promise anyway
                    f = CompletableFuture.failedFuture(e);
                }
                f.whenComplete(queued);
            });
        } catch (RejectedExecutionException e) {
            queued.accept(null, new ShutdownException());
        }
    }

    /**
     * The target finished {@code op} (any thread): its reply is written on the loop. Queued even
     * on the loop, where the loop reaps its own writes (LoopReaping): the replies of one reaping
     * then leave in one drain's gathered write.
     */
    void writeCompleted(WriteOp op) {
        if (op.inline) inlineWrites.decrementAndGet();
        completions.add(op);
    }

    /** On the loop: the write leaves the unfinished ones (perhaps starting a FLUSH) and is answered. */
    private void writeDone(WriteOp op) {
        unfinishedWrites.remove(op);
        pool.release(op.buf);
        long handle = op.handle;
        long offset = op.offset;
        long length = op.length;
        Throwable failure = op.failure;
        op.buf = null;
        op.failure = null;
        spareOps.push(op);
        if (failure == null) replies.simple(handle, null, length);
        else replyFailure(CMD_WRITE, handle, offset, length, failure, length);
    }

    /**
     * Calls {@code op} on the submission thread and runs {@code onDone} with the failure or null
     * on the event loop.
     */
    private void submit(Supplier<CompletableFuture<Void>> op, Consumer<Throwable> onDone) {
        Runnable call = () -> {
            CompletableFuture<Void> f;
            try {
                f = op.get();
            } catch (RuntimeException e) { // the contract says never; keep the promise anyway
                f = CompletableFuture.failedFuture(e);
            }
            f.whenComplete((v, t) -> onEventLoop(() -> onDone.accept(t)));
        };
        try {
            submitter.execute(call);
        } catch (RejectedExecutionException e) {
            onEventLoop(() -> onDone.accept(new ShutdownException()));
        }
    }

    /** Runs {@code r} on the loop: at once when already there, else queued for the next drain. */
    private void onEventLoop(Runnable r) {
        if (ctx.executor().inEventLoop()) r.run();
        else completions.add(r);
    }

    /** One drain of the completion queue: every reply it produces leaves in one gathered write. */
    private void drainCompletions() {
        replies.startGathering();
        try {
            completions.drainInto(writeDone);
        } finally {
            replies.endGathering();
        }
    }

    /** Marks the target's server-side refusal of work because the connection is going away. */
    private static final class ShutdownException extends RuntimeException {
        ShutdownException() {
            super("the connection is shutting down", null, false, false);
        }
    }

    // ------------------------------------------------------------------ replies

    private void reply(NbdCodec.Request r, Throwable failure, long bytes) {
        if (failure != null) replyFailure(r.type(), r.handle(), r.offset(), r.length(), failure, bytes);
        else replies.simple(r.handle(), null, bytes);
    }

    private void replyFailure(int type, long handle, long offset, long length, Throwable failure, long bytes) {
        NbdError e = failure instanceof ShutdownException
                ? NbdError.ESHUTDOWN
                : export.target().errorOf(failure);
        log.warn(
                "{}: {} of {} bytes at {} failed ({}): {}",
                id,
                NbdProtocol.commandName(type),
                length,
                offset,
                e,
                failure.toString());
        replies.simple(handle, e, bytes);
    }

    /** The reply to a request refused before it reached the target; it holds no in-flight slot. */
    private void refuse(NbdCodec.Request r, NbdError e) {
        log.debug(
                "{}: {} flags 0x{} offset {} length {} refused: {}",
                id,
                NbdProtocol.commandName(r.type()),
                Integer.toHexString(r.flags()),
                Long.toUnsignedString(r.offset()),
                r.length(),
                e);
        ByteBuf header = ctx.alloc().buffer(NbdProtocol.SIMPLE_REPLY_HEADER);
        NbdCodec.writeSimpleReply(header, e, r.handle());
        ctx.writeAndFlush(header);
    }

    // ------------------------------------------------------------------ flow control

    private void begin(long bytes) {
        inFlight++;
        inFlightBytes += bytes;
    }

    private void finished(int requests, long bytes) {
        inFlight -= requests;
        inFlightBytes -= bytes;
        if (phase == Phase.DISCONNECTING && inFlight == 0) {
            phase = Phase.CLOSED;
            ctx.close();
            return;
        }
        resumeIfAdmissible();
    }

    private boolean admissible() {
        return inFlight < settings.maxInFlight()
                && inFlightBytes < settings.maxInFlightBytes()
                && ctx.channel().isWritable();
    }

    private void pause() {
        if (paused) return;
        paused = true;
        ctx.channel().config().setAutoRead(false);
    }

    private void resumeIfAdmissible() {
        if (!paused || phase != Phase.REQUEST_HEADER || !admissible()) return;
        paused = false;
        processBatched();
        trimCumulation();
        if (!paused && phase != Phase.CLOSED && phase != Phase.DISCONNECTING)
            ctx.channel().config().setAutoRead(true);
    }

    private void startDisconnecting() {
        if (payload != null) { // a WRITE still arriving is dropped unanswered, as a cut connection would
            pool.release(payload);
            payload = null;
            inFlight--;
            inFlightBytes -= write.length();
            write = null;
        }
        phase = Phase.DISCONNECTING;
        ctx.channel().config().setAutoRead(false);
        if (inFlight == 0) {
            phase = Phase.CLOSED;
            ctx.close();
        }
    }

    /** A hard disconnect; {@code why} (null for none) goes to the log. */
    private void disconnect(String why) {
        if (why != null) log.info("{}: disconnecting: {}", id, why);
        phase = Phase.CLOSED;
        ctx.close();
    }
}
