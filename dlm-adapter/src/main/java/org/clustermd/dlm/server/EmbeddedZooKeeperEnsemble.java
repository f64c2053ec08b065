package org.clustermd.dlm.server;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A ZooKeeper ensemble of N {@code QuorumPeer}s in this JVM, on free loopback ports picked at
 * construction, each with its data under {@code baseDir/server-<i>}. Servers are numbered
 * 0..N-1 here (ZooKeeper's server id is the index plus one). Tests use it to kill and restart
 * single servers, the leader included, while clients stay connected to
 * {@link #connectString()}.
 *
 * <pre>{@code
 * try (EmbeddedZooKeeperEnsemble zk = new EmbeddedZooKeeperEnsemble(dir, 3, ZooKeeperSettings.forTests())) {
 *     zk.start();                       // returns once the ensemble served a write
 *     int leader = zk.leaderIndex();
 *     zk.killServer(leader);
 *     zk.awaitQuorum(Duration.ofSeconds(30));
 *     zk.restartServer(leader);
 * }
 * }</pre>
 *
 * <p>{@link #close()} stops every server and joins every thread they started.
 *
 * <p>Thread-safe: every method that changes a server is synchronized.
 */
public final class EmbeddedZooKeeperEnsemble implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedZooKeeperEnsemble.class);
    /** How long {@link #start()} waits for the first write. */
    public static final Duration DEFAULT_QUORUM_WAIT = Duration.ofSeconds(60);

    private final ZooKeeperSettings settings;
    private final List<QuorumMember> members;
    private final List<String> serverLines;
    private boolean closed;

    /**
     * Picks the ports of {@code size} servers now; {@link #start()} starts them.
     *
     * @throws EmbeddedServerException BIND if free ports cannot be found
     */
    public EmbeddedZooKeeperEnsemble(Path baseDir, int size, ZooKeeperSettings settings)
            throws EmbeddedServerException {
        Objects.requireNonNull(baseDir, "baseDir");
        this.settings = Objects.requireNonNull(settings, "settings");
        if (size < 1) {
            throw new IllegalArgumentException("an ensemble needs at least one server, got " + size);
        }
        int[] ports = LocalPorts.pick(settings.bindAddress(), 3 * size);
        List<QuorumMember> m = new ArrayList<>(size);
        for (int i = 0; i < size; i++) {
            m.add(new QuorumMember(
                    i,
                    baseDir.toAbsolutePath().resolve("server-" + i),
                    ports[3 * i],
                    ports[3 * i + 1],
                    ports[3 * i + 2]));
        }
        this.members = List.copyOf(m);
        this.serverLines =
                members.stream().map(q -> q.serverLine(settings.bindAddress())).toList();
        // without Jetty on the classpath ZooKeeper would log a stack trace per peer for its admin server
        System.getProperties().putIfAbsent("zookeeper.admin.enableServer", "false");
    }

    /** Starts every stopped server and waits up to {@link #DEFAULT_QUORUM_WAIT} for a write. */
    public void start() throws EmbeddedServerException {
        start(DEFAULT_QUORUM_WAIT);
    }

    /**
     * Starts every stopped server, then waits until the ensemble serves a write (a quorum is
     * formed and has a leader), at most {@code quorumWait}.
     */
    public void start(Duration quorumWait) throws EmbeddedServerException {
        synchronized (this) {
            checkOpen();
            ServerStorage.registerAuthProviders(settings.authProviders());
            for (QuorumMember m : members) {
                if (!m.isRunning()) {
                    m.start(settings, serverLines);
                }
            }
        }
        awaitQuorum(quorumWait);
    }

    /** Waits until the ensemble serves a write through {@link #connectString()}, at most {@code timeout}. */
    public void awaitQuorum(Duration timeout) throws EmbeddedServerException {
        WriteProbe.awaitWrite(connectString(), timeout);
    }

    /** Shuts server {@code index} down, keeping its data and ports; a no-op if it is stopped. */
    public synchronized void killServer(int index) {
        member(index).kill();
    }

    /**
     * Starts server {@code index} again on its ports and data (stopping it first if it runs).
     * Does not wait for it to rejoin; {@link #awaitQuorum} waits for a write.
     */
    public synchronized void restartServer(int index) throws EmbeddedServerException {
        checkOpen();
        QuorumMember m = member(index);
        m.kill();
        m.start(settings, serverLines);
    }

    /** Whether server {@code index} is started (it may still be looking for a leader). */
    public synchronized boolean isRunning(int index) {
        return member(index).isRunning();
    }

    /** The index of the server that currently leads, or -1 when none does. */
    public synchronized int leaderIndex() {
        for (int i = 0; i < members.size(); i++) {
            if (members.get(i).isLeading()) {
                return i;
            }
        }
        return -1;
    }

    /** Each server's role as ZooKeeper names it: leading, following, looking or stopped. */
    public synchronized List<String> roles() {
        return members.stream().map(QuorumMember::role).toList();
    }

    public int size() {
        return members.size();
    }

    /** All client addresses, e.g. {@code 127.0.0.1:40001,127.0.0.1:40004,127.0.0.1:40007}. */
    public String connectString() {
        return members.stream()
                .map(m -> settings.bindAddress() + ":" + m.clientPort())
                .collect(Collectors.joining(","));
    }

    /** The client address of server {@code index} alone. */
    public String connectString(int index) {
        return settings.bindAddress() + ":" + member(index).clientPort();
    }

    public int clientPort(int index) {
        return member(index).clientPort();
    }

    public Path dataDir(int index) {
        return member(index).dataDir();
    }

    public ZooKeeperSettings settings() {
        return settings;
    }

    /** Stops every server and joins their threads; idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (QuorumMember m : members) {
            try {
                m.close();
            } catch (RuntimeException e) {
                LOG.warn("closing {} failed: {}", m, e.toString());
            }
        }
    }

    private QuorumMember member(int index) {
        Objects.checkIndex(index, members.size());
        return members.get(index);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("ensemble is closed");
        }
    }

    @Override
    public String toString() {
        return "EmbeddedZooKeeperEnsemble[" + connectString() + "]";
    }
}
