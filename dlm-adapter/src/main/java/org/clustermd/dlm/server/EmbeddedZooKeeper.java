package org.clustermd.dlm.server;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.apache.zookeeper.server.ContainerManager;
import org.apache.zookeeper.server.RequestProcessor;
import org.apache.zookeeper.server.ServerCnxnFactory;
import org.apache.zookeeper.server.ZooKeeperServer;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One standalone ZooKeeper server in this JVM, built from ZooKeeper's own
 * {@code ZooKeeperServer} and {@code ServerCnxnFactory}: the embedded default of clustermd.
 * The client port binds to {@link ZooKeeperSettings#bindAddress()} (127.0.0.1 by default);
 * snapshots and the transaction log live in a directory, so a server stopped and started
 * again on the same directory (in this JVM or the next) keeps every znode.
 *
 * <pre>{@code
 * try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(dir, 0, ZooKeeperSettings.forTests())) {
 *     connect(zk.connectString());   // "127.0.0.1:41234"
 * }
 * }</pre>
 *
 * <p>Client port 0 picks a free port on the first start; {@link #stop()} and {@link #start()}
 * keep that port so clients reconnect to the same address. {@link #close()} stops every
 * thread the server started (it joins them, bounded) and is idempotent.
 *
 * <p>Thread-safe: lifecycle methods are synchronized; accessors may be called at any time.
 */
public final class EmbeddedZooKeeper implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedZooKeeper.class);
    private static final int CONTAINER_CHECK_INTERVAL_MS = 60_000;
    private static final int CONTAINER_MAX_PER_MINUTE = 10_000;

    private final Path dataDir;
    private final Path dataLogDir;
    private final ZooKeeperSettings settings;
    private final CompletableFuture<String> failure = new CompletableFuture<>();
    private volatile int clientPort;
    private ServerLifecycle lifecycle = ServerLifecycle.STOPPED;
    private Running running;
    private int generation;

    /**
     * A stopped server; {@link #start()} starts it. {@code clientPort} 0 picks a free port on
     * the first start.
     */
    public EmbeddedZooKeeper(Path dataDir, Path dataLogDir, int clientPort, ZooKeeperSettings settings) {
        this.dataDir = Objects.requireNonNull(dataDir, "dataDir").toAbsolutePath();
        this.dataLogDir = Objects.requireNonNull(dataLogDir, "dataLogDir").toAbsolutePath();
        this.settings = Objects.requireNonNull(settings, "settings");
        if (clientPort < 0 || clientPort > 65535) {
            throw new IllegalArgumentException("client port out of range: " + clientPort);
        }
        this.clientPort = clientPort;
    }

    /** A stopped server whose transaction log shares {@code dataDir} with the snapshots. */
    public EmbeddedZooKeeper(Path dataDir, int clientPort, ZooKeeperSettings settings) {
        this(dataDir, dataDir, clientPort, settings);
    }

    /** Creates and starts a server; the caller closes it. */
    public static EmbeddedZooKeeper start(Path dataDir, int clientPort, ZooKeeperSettings settings)
            throws EmbeddedServerException {
        EmbeddedZooKeeper zk = new EmbeddedZooKeeper(dataDir, clientPort, settings);
        zk.start();
        return zk;
    }

    /** Starts serving on the client port; a no-op when already running. */
    public synchronized void start() throws EmbeddedServerException {
        if (lifecycle == ServerLifecycle.RUNNING) {
            return;
        }
        ServerLifecycle next = lifecycle.to(ServerLifecycle.RUNNING);
        ServerStorage.registerAuthProviders(settings.authProviders());
        ServerThreadGroup threads =
                new ServerThreadGroup("zk-standalone-" + (clientPort == 0 ? "new" : clientPort) + "-" + (++generation));
        FileTxnSnapLog snapLog = ServerStorage.open(dataDir, dataLogDir, settings.forceSync());
        try {
            running = threads.run(
                    "starting ZooKeeper on " + settings.bindAddress() + ":" + clientPort,
                    EmbeddedServerException.Code.START,
                    () -> launch(threads, snapLog));
        } catch (EmbeddedServerException e) {
            closeQuietly(snapLog);
            threads.awaitTermination(settings);
            throw e;
        }
        clientPort = running.factory.getLocalPort();
        lifecycle = next;
        LOG.info("ZooKeeper serving on {} (data {}, log {}, {})", connectString(), dataDir, dataLogDir, settings);
    }

    private Running launch(ServerThreadGroup threads, FileTxnSnapLog snapLog) throws IOException, InterruptedException {
        Server server = new Server(snapLog, settings, failure);
        snapLog.setServerStats(server.serverStats());
        ServerCnxnFactory factory = ServerCnxnFactory.createFactory();
        InetSocketAddress address = new InetSocketAddress(settings.bindAddress(), clientPort);
        try {
            factory.configure(address, settings.maxClientCnxns(), -1, false);
        } catch (BindException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.BIND,
                    "cannot bind the client port " + address + ": " + e.getMessage(),
                    e);
        }
        try {
            factory.startup(server);
            ContainerManager containers = new ContainerManager(
                    server.getZKDatabase(),
                    server.firstProcessor(),
                    CONTAINER_CHECK_INTERVAL_MS,
                    CONTAINER_MAX_PER_MINUTE);
            containers.start();
            return new Running(threads, snapLog, server, factory, containers);
        } catch (IOException | InterruptedException | RuntimeException | Error e) {
            factory.shutdown();
            server.shutdown(true);
            throw e;
        }
    }

    /** Stops serving and every server thread; the data stays and {@link #start()} resumes it. */
    public synchronized void stop() {
        if (lifecycle != ServerLifecycle.RUNNING) {
            return;
        }
        lifecycle = lifecycle.to(ServerLifecycle.STOPPED);
        shutdown();
    }

    /** {@link #stop()} then {@link #start()}, on the same port and data. */
    public synchronized void restart() throws EmbeddedServerException {
        stop();
        start();
    }

    /** Stops the server for good; idempotent. */
    @Override
    public synchronized void close() {
        if (lifecycle == ServerLifecycle.CLOSED) {
            return;
        }
        boolean wasRunning = lifecycle == ServerLifecycle.RUNNING;
        lifecycle = lifecycle.to(ServerLifecycle.CLOSED);
        if (wasRunning) {
            shutdown();
        }
    }

    private void shutdown() {
        Running r = running;
        running = null;
        r.containers.stop();
        r.factory.shutdown();
        try {
            r.factory.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        r.server.shutdown(true);
        closeQuietly(r.snapLog);
        List<String> left = r.threads.awaitTermination(settings);
        LOG.info("ZooKeeper on port {} stopped{}", clientPort, left.isEmpty() ? "" : "; threads left: " + left);
    }

    private static void closeQuietly(FileTxnSnapLog snapLog) {
        try {
            snapLog.close();
        } catch (IOException e) {
            LOG.warn("closing the ZooKeeper transaction log failed: {}", e.toString());
        }
    }

    /** {@code host:port} for clients, e.g. {@code 127.0.0.1:2181}. */
    public String connectString() {
        return settings.bindAddress() + ":" + clientPort;
    }

    /** The client port: the one asked for, or the one picked on the first start. */
    public int clientPort() {
        return clientPort;
    }

    public Path dataDir() {
        return dataDir;
    }

    public Path dataLogDir() {
        return dataLogDir;
    }

    public ZooKeeperSettings settings() {
        return settings;
    }

    /** Whether the server is started and ZooKeeper reports it running. */
    public synchronized boolean isRunning() {
        return lifecycle == ServerLifecycle.RUNNING && running.server.isRunning();
    }

    /**
     * Completes with a reason when a started server hits an internal error and stops serving
     * (ZooKeeper's ERROR state, e.g. its log cannot be written); never completes otherwise.
     */
    public CompletableFuture<String> failure() {
        return failure;
    }

    @Override
    public String toString() {
        return "EmbeddedZooKeeper[" + connectString() + ", data=" + dataDir + "]";
    }

    /** The parts of a started server, shut down together. */
    private record Running(
            ServerThreadGroup threads,
            FileTxnSnapLog snapLog,
            Server server,
            ServerCnxnFactory factory,
            ContainerManager containers) {}

    /** ZooKeeperServer with the first processor visible (for the container manager) and errors reported. */
    private static final class Server extends ZooKeeperServer {
        private final CompletableFuture<String> failure;

        Server(FileTxnSnapLog snapLog, ZooKeeperSettings s, CompletableFuture<String> failure) {
            super(null, snapLog, s.tickTimeMs(), s.minSessionTimeoutMs(), s.maxSessionTimeoutMs(), -1, null, null);
            this.failure = failure;
        }

        RequestProcessor firstProcessor() {
            return firstProcessor;
        }

        @Override
        protected void setState(State state) {
            super.setState(state);
            if (state == State.ERROR) {
                failure.complete("ZooKeeper server on port " + getClientPort() + " entered the ERROR state");
            }
        }
    }
}
