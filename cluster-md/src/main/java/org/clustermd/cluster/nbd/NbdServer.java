package org.clustermd.cluster.nbd;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollEventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * An NBD server (fixed newstyle handshake, simple replies) serving one or more
 * {@link NbdTarget}s, each under its own export name, on Netty. It listens on 127.0.0.1 unless
 * told otherwise: NBD has no authentication without TLS, which this server does not offer, so
 * exposing it beyond the host is the operator's explicit choice.
 *
 * <pre>{@code
 * try (NbdServer nbd = NbdServer.builder().port(10809).export(new Raid1ArrayTarget(array)).start()) {
 *     // qemu-io -f raw nbd://127.0.0.1:10809/md0, nbdcopy, fio --ioengine=nbd, nbdfuse ...
 * }
 * }</pre>
 *
 * <p>Every client may keep up to {@code maxInFlight} requests in flight; clients connect and are
 * served concurrently. {@link #close()} stops listening, lets every connection finish the
 * requests it has in flight (bounded), then closes them.
 *
 * <p>Thread-safe.
 */
public final class NbdServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(NbdServer.class);

    /** The IANA port of NBD. */
    public static final int DEFAULT_PORT = 10809;
    /** The largest READ or WRITE accepted: 32 MiB, the size the spec asks every server to take. */
    public static final int DEFAULT_MAX_PAYLOAD = 32 << 20;

    public static final int DEFAULT_MAX_IN_FLIGHT = 64;
    public static final long DEFAULT_MAX_IN_FLIGHT_BYTES = 64L << 20;
    /** Option data held at most (an export name is at most 4096 bytes); longer options are skipped and refused. */
    static final int MAX_OPTION_DATA = 16 << 10;

    private static final Duration CLOSE_WAIT = Duration.ofSeconds(30);

    /**
     * Writes issued on the network threads at once, across all connections: half the default
     * queue depth of an array's legs ({@code BlockDeviceOptions.DEFAULT_QUEUE_DEPTH}), so those
     * writes alone never find a leg's AIO slots all taken, which is the one wait left in issuing
     * a write (docs/nbd-cost.md). Writes beyond it go through the submission threads.
     */
    static final int MAX_INLINE_WRITES = 32;

    /** Limits each connection keeps. */
    record Settings(int maxInFlight, long maxInFlightBytes, int maxOptionData) {}

    private final Map<String, Export> exports;
    private final Settings settings;
    private final BufferPool pool;
    private final EventLoopGroup boss;
    private final EventLoopGroup workers;
    private final Channel serverChannel;
    private final Map<Channel, NbdConnection> connections = new ConcurrentHashMap<>();
    /** Writes issued on a network thread and not yet completed, across all connections. */
    private final AtomicInteger inlineWrites = new AtomicInteger();

    private final AtomicBoolean closed = new AtomicBoolean();

    private NbdServer(Builder b) throws IOException {
        Map<String, Export> ex = new LinkedHashMap<>();
        for (NbdTarget t : b.targets) {
            Export e = new Export(t, b.maxPayload);
            if (ex.putIfAbsent(e.name(), e) != null)
                throw new IllegalArgumentException("two exports named '" + e.name() + "'");
        }
        if (ex.isEmpty()) throw new IllegalArgumentException("an NBD server needs at least one export");
        this.exports = Map.copyOf(ex);
        this.settings = new Settings(b.maxInFlight, b.maxInFlightBytes, MAX_OPTION_DATA);
        this.pool = new BufferPool(b.maxPayload, Math.max(b.maxInFlightBytes, 2L * b.maxPayload));
        // epoll where the native transport loads (Linux): fewer system calls per wake-up than NIO's selector
        boolean epoll = Epoll.isAvailable();
        this.boss = epoll
                ? new EpollEventLoopGroup(1, new DefaultThreadFactory("nbd-accept", true))
                : new NioEventLoopGroup(1, new DefaultThreadFactory("nbd-accept", true));
        this.workers = epoll
                ? new EpollEventLoopGroup(b.ioThreads, new DefaultThreadFactory("nbd-io", true), LoopReaping.STRATEGY)
                : new NioEventLoopGroup(b.ioThreads, new DefaultThreadFactory("nbd-io", true));
        // each loop reaps the disk completions of the writes it issued (docs/nbd-cost.md)
        if (epoll) LoopReaping.install(workers);
        int high = (int) Math.min(Integer.MAX_VALUE, Math.max(b.maxInFlightBytes, 1 << 20));
        ServerBootstrap sb = new ServerBootstrap()
                .group(boss, workers)
                .channel(epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class)
                .option(ChannelOption.SO_REUSEADDR, true)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childOption(ChannelOption.WRITE_BUFFER_WATER_MARK, new WriteBufferWaterMark(high / 2, high))
                .childHandler(new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                        NbdConnection c = new NbdConnection(exports, pool, settings, inlineWrites);
                        connections.put(ch, c);
                        ch.closeFuture().addListener(f -> connections.remove(ch));
                        // No flush consolidation: a drain already gathers its replies into one
                        // write and flushes once, and a consolidating handler would hold a flush
                        // made inside a socket read (a reaping's replies) until the turn's reads
                        // are all done, the wait reaping between reads removes. What loses its
                        // consolidation is rare: refusals, handshake replies, a lone reply.
                        ch.pipeline().addLast(c);
                    }
                });
        InetSocketAddress at = new InetSocketAddress(b.bind, b.port);
        ChannelFuture bound = sb.bind(at).awaitUninterruptibly();
        if (!bound.isSuccess()) {
            shutdownGroups();
            Throwable c = bound.cause();
            throw new IOException(
                    "NBD server cannot listen on " + at.getAddress().getHostAddress() + ":" + b.port + ": "
                            + (c == null ? "unknown error" : c.getMessage()),
                    c);
        }
        this.serverChannel = bound.channel();
        log.info("NBD server on {} exporting {}", address(), exports.keySet());
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The address the server listens on (with the real port when 0 was asked for). */
    public InetSocketAddress address() {
        return (InetSocketAddress) serverChannel.localAddress();
    }

    public int port() {
        return address().getPort();
    }

    /** The export names served. */
    public List<String> exportNames() {
        return List.copyOf(exports.keySet());
    }

    /** Clients connected now. */
    public int connectionCount() {
        return connections.size();
    }

    /**
     * Stops listening, lets each connection finish its requests in flight (up to 30 s), closes
     * the connections and stops the I/O threads. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        serverChannel.close().awaitUninterruptibly();
        List<ChannelFuture> closing = new ArrayList<>();
        for (Map.Entry<Channel, NbdConnection> e : connections.entrySet()) {
            Channel ch = e.getKey();
            ch.eventLoop().execute(e.getValue()::shutdown);
            closing.add(ch.closeFuture());
        }
        long deadline = System.nanoTime() + CLOSE_WAIT.toNanos();
        for (ChannelFuture f : closing) {
            long left = deadline - System.nanoTime();
            if (left <= 0 || !f.awaitUninterruptibly(left, TimeUnit.NANOSECONDS)) {
                log.warn(
                        "NBD server: {} still busy after {}; closing it",
                        f.channel().remoteAddress(),
                        CLOSE_WAIT);
                f.channel().close().awaitUninterruptibly();
            }
        }
        shutdownGroups();
        log.info("NBD server on {} stopped", serverChannel.localAddress());
    }

    private void shutdownGroups() {
        // the loops' writes still in flight (a client that left mid-request) finish on a reaper
        LoopReaping.uninstall(workers);
        boss.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
        workers.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly();
    }

    /** Configures an {@link NbdServer}. Not thread-safe. */
    public static final class Builder {
        private InetAddress bind = InetAddress.getLoopbackAddress();
        private int port = DEFAULT_PORT;
        private final List<NbdTarget> targets = new ArrayList<>();
        private int maxPayload = DEFAULT_MAX_PAYLOAD;
        private int maxInFlight = DEFAULT_MAX_IN_FLIGHT;
        private long maxInFlightBytes = DEFAULT_MAX_IN_FLIGHT_BYTES;
        private int ioThreads = Math.max(1, Math.min(4, Runtime.getRuntime().availableProcessors()));

        private Builder() {}

        /** The address to listen on (default 127.0.0.1). */
        public Builder bind(InetAddress v) {
            this.bind = Objects.requireNonNull(v, "bind");
            return this;
        }

        /** The TCP port (default 10809; 0 picks a free one, see {@link #port()}). */
        public Builder port(int v) {
            if (v < 0 || v > 65535) throw new IllegalArgumentException("NBD port must be 0..65535: " + v);
            this.port = v;
            return this;
        }

        /** Adds an export, served under {@link NbdTarget#name()}. */
        public Builder export(NbdTarget t) {
            targets.add(Objects.requireNonNull(t, "target"));
            return this;
        }

        /** The largest READ or WRITE, advertised as NBD_INFO_BLOCK_SIZE's maximum (default 32 MiB). */
        public Builder maxPayload(int bytes) {
            if (bytes < 4096)
                throw new IllegalArgumentException("maximum payload must be at least 4096 bytes: " + bytes);
            this.maxPayload = bytes;
            return this;
        }

        /** Requests in flight per connection before the server stops reading from it (default 64). */
        public Builder maxInFlight(int v) {
            if (v < 1) throw new IllegalArgumentException("requests in flight must be at least 1: " + v);
            this.maxInFlight = v;
            return this;
        }

        /** Bytes of request data in flight per connection before the server stops reading from it (default 64 MiB). */
        public Builder maxInFlightBytes(long v) {
            if (v < 1) throw new IllegalArgumentException("bytes in flight must be at least 1: " + v);
            this.maxInFlightBytes = v;
            return this;
        }

        /** Network threads (default min(4, processors)). */
        public Builder ioThreads(int v) {
            if (v < 1) throw new IllegalArgumentException("I/O threads must be at least 1: " + v);
            this.ioThreads = v;
            return this;
        }

        /** Binds and starts serving. */
        public NbdServer start() throws IOException {
            return new NbdServer(this);
        }
    }
}
