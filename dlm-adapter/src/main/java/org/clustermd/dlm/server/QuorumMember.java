package org.clustermd.dlm.server;

import java.io.IOException;
import java.net.BindException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import org.apache.zookeeper.server.ServerCnxnFactory;
import org.apache.zookeeper.server.ZKDatabase;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;
import org.apache.zookeeper.server.quorum.QuorumPeer;
import org.apache.zookeeper.server.quorum.QuorumPeerConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One member of an in-process ensemble: a {@code QuorumPeer} with fixed ports and a data
 * directory, which can be shut down (killed) and started again on the same ports and data.
 *
 * <p>Not thread-safe: its ensemble calls it under the ensemble's lock.
 */
final class QuorumMember {
    private static final Logger LOG = LoggerFactory.getLogger(QuorumMember.class);
    static final int INIT_LIMIT_TICKS = 10;
    static final int SYNC_LIMIT_TICKS = 5;

    private final int index;
    private final Path dataDir;
    private final int clientPort;
    private final int quorumPort;
    private final int electionPort;
    private ServerLifecycle lifecycle = ServerLifecycle.STOPPED;
    private QuorumPeer peer;
    private ServerThreadGroup threads;
    private ZooKeeperSettings settings = ZooKeeperSettings.defaults();
    private int generation;

    QuorumMember(int index, Path dataDir, int clientPort, int quorumPort, int electionPort) {
        this.index = index;
        this.dataDir = dataDir;
        this.clientPort = clientPort;
        this.quorumPort = quorumPort;
        this.electionPort = electionPort;
    }

    /** ZooKeeper's server id: the index plus one (ids start at 1). */
    long serverId() {
        return index + 1L;
    }

    int clientPort() {
        return clientPort;
    }

    Path dataDir() {
        return dataDir;
    }

    /** The {@code server.N} line of the ensemble's configuration for this member. */
    String serverLine(String address) {
        return serverLine(address, quorumPort, electionPort, clientPort);
    }

    /** A {@code server.N} value: quorum and election ports, role, then the client address. */
    static String serverLine(String address, int quorumPort, int electionPort, int clientPort) {
        return address + ":" + quorumPort + ":" + electionPort + ":participant;" + address + ":" + clientPort;
    }

    boolean isRunning() {
        return lifecycle == ServerLifecycle.RUNNING;
    }

    /** The peer's role as ZooKeeper names it (leading, following, looking), or "stopped". */
    String role() {
        QuorumPeer p = peer;
        return lifecycle == ServerLifecycle.RUNNING && p != null
                ? p.getPeerState().name().toLowerCase()
                : "stopped";
    }

    boolean isLeading() {
        QuorumPeer p = peer;
        return lifecycle == ServerLifecycle.RUNNING
                && p != null
                && p.getPeerState() == QuorumPeer.ServerState.LEADING
                && p.leader != null;
    }

    void start(ZooKeeperSettings settings, List<String> serverLines) throws EmbeddedServerException {
        ServerLifecycle next = lifecycle.to(ServerLifecycle.RUNNING);
        this.settings = settings;
        QuorumPeerConfig config = configure(settings, serverLines);
        ServerThreadGroup group =
                new ServerThreadGroup("zk-peer" + serverId() + "-" + clientPort + "-" + (++generation));
        FileTxnSnapLog snapLog = ServerStorage.open(dataDir, dataDir, settings.forceSync());
        try {
            peer = group.run(
                    "starting ZooKeeper peer " + serverId(),
                    EmbeddedServerException.Code.START,
                    () -> launch(config, snapLog));
        } catch (EmbeddedServerException e) {
            try {
                snapLog.close();
            } catch (IOException ignored) {
                // the start already failed; its error is the one to report
            }
            group.awaitTermination(settings);
            throw e;
        }
        threads = group;
        lifecycle = next;
        LOG.info(
                "ZooKeeper peer {} started (client {}, quorum {}, election {})",
                serverId(),
                clientPort,
                quorumPort,
                electionPort);
    }

    private QuorumPeerConfig configure(ZooKeeperSettings settings, List<String> serverLines)
            throws EmbeddedServerException {
        ServerStorage.createDirectory(dataDir);
        try {
            Files.writeString(dataDir.resolve("myid"), Long.toString(serverId()), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.DATA_DIR, "cannot write " + dataDir.resolve("myid") + ": " + e, e);
        }
        Properties p = new Properties();
        p.setProperty("tickTime", Integer.toString(settings.tickTimeMs()));
        p.setProperty("initLimit", Integer.toString(INIT_LIMIT_TICKS));
        p.setProperty("syncLimit", Integer.toString(SYNC_LIMIT_TICKS));
        p.setProperty("dataDir", dataDir.toString());
        p.setProperty("dataLogDir", dataDir.toString());
        p.setProperty("clientPort", Integer.toString(clientPort));
        p.setProperty("clientPortAddress", settings.bindAddress());
        p.setProperty("maxClientCnxns", Integer.toString(settings.maxClientCnxns()));
        p.setProperty("minSessionTimeout", Integer.toString(settings.minSessionTimeoutMs()));
        p.setProperty("maxSessionTimeout", Integer.toString(settings.maxSessionTimeoutMs()));
        for (int i = 0; i < serverLines.size(); i++) {
            p.setProperty("server." + (i + 1), serverLines.get(i));
        }
        QuorumPeerConfig config = new QuorumPeerConfig();
        try {
            config.parseProperties(p);
        } catch (IOException | QuorumPeerConfig.ConfigException | IllegalArgumentException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.START,
                    "ZooKeeper rejected the configuration of peer " + serverId() + ": " + e.getMessage(),
                    e);
        }
        return config;
    }

    private QuorumPeer launch(QuorumPeerConfig config, FileTxnSnapLog snapLog) throws IOException {
        ServerCnxnFactory factory = ServerCnxnFactory.createFactory();
        try {
            factory.configure(config.getClientPortAddress(), config.getMaxClientCnxns(), -1, false);
        } catch (BindException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.BIND,
                    "peer " + serverId() + " cannot bind its client port " + config.getClientPortAddress() + ": "
                            + e.getMessage(),
                    e);
        }
        QuorumPeer p = new QuorumPeer();
        try {
            p.setTxnFactory(snapLog);
            p.setMyid(config.getServerId());
            p.setElectionType(config.getElectionAlg());
            p.setTickTime(config.getTickTime());
            p.setMinSessionTimeout(config.getMinSessionTimeout());
            p.setMaxSessionTimeout(config.getMaxSessionTimeout());
            p.setInitLimit(config.getInitLimit());
            p.setSyncLimit(config.getSyncLimit());
            p.setConnectToLearnerMasterLimit(config.getConnectToLearnerMasterLimit());
            p.setClientPortListenBacklog(config.getClientPortListenBacklog());
            p.setZKDatabase(new ZKDatabase(snapLog));
            p.setQuorumVerifier(config.getQuorumVerifier(), false);
            p.initConfigInZKDatabase();
            p.setCnxnFactory(factory);
            p.setLearnerType(config.getPeerType());
            p.setSyncEnabled(config.getSyncEnabled());
            p.setQuorumListenOnAllIPs(false);
            p.enableLocalSessions(config.areLocalSessionsEnabled());
            p.enableLocalSessionsUpgrading(config.isLocalSessionsUpgradingEnabled());
            p.setSslQuorum(config.isSslQuorum());
            p.setUsePortUnification(config.shouldUsePortUnification());
            // QuorumPeer defaults to multi-address on; its reachability check races with a
            // peer's disconnect in 3.9.5 (an NPE kills the election's WorkerSender, and a
            // restarted peer can then never join through this one), so take the config's "off"
            p.setMultiAddressEnabled(config.isMultiAddressEnabled());
            p.setMultiAddressReachabilityCheckEnabled(config.isMultiAddressReachabilityCheckEnabled());
            p.setMultiAddressReachabilityCheckTimeoutMs(config.getMultiAddressReachabilityCheckTimeoutMs());
            p.initialize();
            p.start();
            return p;
        } catch (IOException | RuntimeException | Error e) {
            p.shutdown();
            factory.shutdown();
            throw e;
        }
    }

    /** Shuts the peer down (the in-process analog of a crash: no goodbye to clients) and joins its threads. */
    void kill() {
        if (lifecycle != ServerLifecycle.RUNNING) {
            return;
        }
        lifecycle = lifecycle.to(ServerLifecycle.STOPPED);
        shutdown();
    }

    void close() {
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
        QuorumPeer p = peer;
        peer = null;
        p.shutdown();
        try {
            p.join(ServerThreadGroup.joinTimeout(settings).toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        List<String> left = threads.awaitTermination(settings);
        threads = null;
        LOG.info("ZooKeeper peer {} stopped{}", serverId(), left.isEmpty() ? "" : "; threads left: " + left);
    }

    @Override
    public String toString() {
        return "peer " + serverId() + " (client port " + clientPort + ", " + role() + ")";
    }
}
