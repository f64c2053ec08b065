package org.clustermd.cluster.nbd;

import static org.clustermd.cluster.nbd.NbdProtocol.CMD_DISC;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLAG_FUA;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_TRIM;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.ByteToMessageDecoder;
import java.nio.ByteBuffer;
import java.util.HashSet;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
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
 * <li>Completions from the target's threads are queued and drained on the loop in batches:
 *     one task and one socket flush for all replies that completed meanwhile.</li>
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
    private final Set<CompletableFuture<Void>> unfinishedWrites = new HashSet<>();
    /** The server's count of writes issued from a network thread (bounded, see NbdServer). */
    private final AtomicInteger inlineWrites;
    /** Completions waiting for the loop; filled by the target's threads. */
    private final Queue<Runnable> completions = new ConcurrentLinkedQueue<>();

    private final AtomicBoolean drainScheduled = new AtomicBoolean();
    /** True while the loop drains completions: replies are written, and flushed once at the end. */
    private boolean draining;

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
                submit(null, () -> target.read(r.offset(), buf), null, failure -> {
                    if (failure == null) {
                        replyRead(r, buf);
                    } else {
                        pool.release(buf);
                        replyFailure(r, failure, r.length());
                    }
                });
            }
            case CMD_FLUSH -> {
                begin(0);
                CompletableFuture<?> before =
                        CompletableFuture.allOf(unfinishedWrites.toArray(new CompletableFuture<?>[0]));
                submit(before, target::flush, null, failure -> reply(r, failure, 0));
            }
            case CMD_TRIM -> {
                begin(0);
                submit(null, () -> target.trim(r.offset(), r.length()), null, failure -> reply(r, failure, 0));
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
        CompletableFuture<Void> done = new CompletableFuture<>();
        unfinishedWrites.add(done);
        Consumer<Throwable> onDone = failure -> {
            unfinishedWrites.remove(done);
            pool.release(buf);
            reply(r, failure, r.length());
        };
        if (inlineWrites.incrementAndGet() <= NbdServer.MAX_INLINE_WRITES) {
            CompletableFuture<Void> f;
            try {
                f = target.tryWrite(r.offset(), buf, fua);
            } catch (RuntimeException e) { // the contract says never; the submission thread reports it
                f = null;
            }
            if (f != null) {
                f.whenComplete((v, t) -> {
                    inlineWrites.decrementAndGet();
                    done.complete(null);
                    onEventLoop(() -> onDone.accept(t));
                });
                return;
            }
        }
        inlineWrites.decrementAndGet();
        submit(null, () -> target.write(r.offset(), buf, fua), done, onDone);
    }

    /**
     * Calls {@code op} on the submission thread (after {@code after} completes, when given),
     * completes {@code done} (when given) as soon as the target finished, and runs
     * {@code onDone} with the failure or null on the event loop.
     */
    private void submit(
            CompletableFuture<?> after,
            Supplier<CompletableFuture<Void>> op,
            CompletableFuture<Void> done,
            Consumer<Throwable> onDone) {
        Runnable call = () -> {
            CompletableFuture<Void> f;
            try {
                f = op.get();
            } catch (RuntimeException e) { // the contract says never; keep the promise anyway
                f = CompletableFuture.failedFuture(e);
            }
            f.whenComplete((v, t) -> {
                if (done != null) done.complete(null);
                onEventLoop(() -> onDone.accept(t));
            });
        };
        Runnable start = () -> {
            try {
                submitter.execute(call);
            } catch (RejectedExecutionException e) {
                if (done != null) done.complete(null);
                onEventLoop(() -> onDone.accept(new ShutdownException()));
            }
        };
        if (after == null || after.isDone()) start.run();
        else after.whenComplete((v, t) -> start.run());
    }

    /**
     * Runs {@code r} on the loop: at once when already there, else queued for the next drain.
     * Only the completion that finds no drain scheduled wakes the loop; the others ride along.
     */
    private void onEventLoop(Runnable r) {
        if (ctx.executor().inEventLoop()) {
            r.run();
            return;
        }
        completions.add(r);
        if (!drainScheduled.compareAndSet(false, true)) return;
        try {
            ctx.executor().execute(this::drainCompletions);
        } catch (RejectedExecutionException e) {
            drainCompletions(); // the loop is gone with the server: only buffers are left to give back
        }
    }

    private void drainCompletions() {
        // cleared before polling: a completion queued after the last poll schedules a new drain
        drainScheduled.set(false);
        draining = true;
        try {
            Runnable r;
            while ((r = completions.poll()) != null) r.run();
        } finally {
            draining = false;
        }
        ctx.flush();
    }

    /** Marks the target's server-side refusal of work because the connection is going away. */
    private static final class ShutdownException extends RuntimeException {
        ShutdownException() {
            super("the connection is shutting down", null, false, false);
        }
    }

    // ------------------------------------------------------------------ replies

    private void replyRead(NbdCodec.Request r, ByteBuffer data) {
        ByteBuf header = ctx.alloc().buffer(NbdProtocol.SIMPLE_REPLY_HEADER);
        NbdCodec.writeSimpleReply(header, null, r.handle());
        ctx.write(header);
        // the wrapper does not own the pooled buffer: it goes back to the pool once it is on the socket
        ctx.write(Unpooled.wrappedBuffer(data)).addListener(f -> {
            pool.release(data);
            finished(r.length());
        });
        if (!draining) ctx.flush();
    }

    private void reply(NbdCodec.Request r, Throwable failure, long bytes) {
        if (failure != null) {
            replyFailure(r, failure, bytes);
            return;
        }
        send(r, null, bytes);
    }

    private void replyFailure(NbdCodec.Request r, Throwable failure, long bytes) {
        NbdError e = failure instanceof ShutdownException
                ? NbdError.ESHUTDOWN
                : export.target().errorOf(failure);
        log.warn(
                "{}: {} of {} bytes at {} failed ({}): {}",
                id,
                NbdProtocol.commandName(r.type()),
                r.length(),
                r.offset(),
                e,
                failure.toString());
        send(r, e, bytes);
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

    private void send(NbdCodec.Request r, NbdError e, long bytes) {
        ByteBuf header = ctx.alloc().buffer(NbdProtocol.SIMPLE_REPLY_HEADER);
        NbdCodec.writeSimpleReply(header, e, r.handle());
        ctx.write(header).addListener(f -> finished(bytes));
        if (!draining) ctx.flush();
    }

    // ------------------------------------------------------------------ flow control

    private void begin(long bytes) {
        inFlight++;
        inFlightBytes += bytes;
    }

    private void finished(long bytes) {
        inFlight--;
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
