package org.clustermd.dlm.zk;

import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.RetryNTimes;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockManager;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's connection to the lock manager: one ZooKeeper session (through Curator), shared by
 * every lockspace the node joins, and that session's lease ({@link Lease}, kept by a
 * {@link LeaseRenewer}). It is the only place that translates session health for the
 * lockspaces: Curator's SUSPENDED or the lease's end suspends every lockspace at once; being
 * connected with a valid lease again, in the same session, resumes them after a full re-read;
 * LOST (or a reconnect with a different session, which Curator's retry would otherwise hide)
 * loses them. See the package documentation, "The lease".
 *
 * <pre>{@code
 * try (ZkLockManager dlm = ZkLockManager.builder()
 *         .connectString("127.0.0.1:2181").cluster("c1").nodeName("node1").build();
 *      LockSpace ls = dlm.join("6b1a...uuid", LockSpaceOptions.of(4))) {
 *     try (LockResource token = ls.resource("token")) {
 *         token.convert(LockMode.EX);
 *         ...
 *     }
 * }
 * }</pre>
 *
 * <p>Thread-safe.
 */
public final class ZkLockManager implements LockManager {
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockManager.class);
    /** An external client's session started at a time we do not know. */
    private static final long UNKNOWN_START = Long.MIN_VALUE;

    private final CuratorFramework client;
    private final boolean ownsClient;
    private final String root;
    private final String cluster;
    private final String nodeName;
    private final DlmCredentials credentials;
    private final List<ZkLockSpace> lockSpaces = new CopyOnWriteArrayList<>();
    private final LeaseRenewer renewer;
    /** False from Curator's SUSPENDED or LOST until its RECONNECTED. */
    private volatile boolean connected = true;
    /** What the lockspaces were last told (the renewer's thread only). */
    private boolean toldHealthy;

    private ZkLockManager(Builder b, CuratorFramework client, boolean ownsClient, long connectStart) {
        this.client = client;
        this.ownsClient = ownsClient;
        this.root = b.root;
        this.cluster = b.cluster;
        this.nodeName = b.nodeName;
        this.credentials = b.credentials;
        Lease lease = new Lease(System::nanoTime);
        long requested = b.sessionTimeout.toNanos();
        this.renewer = new LeaseRenewer(client, lease, root, requested, nodeName, new LeaseRenewer.HealthListener() {
            @Override
            public void leaseHealthChanged() {
                tellHealth();
            }

            @Override
            public void leaseExtended() {
                lockSpaces.forEach(ZkLockSpace::leaseChanged);
            }
        });
        if (connectStart != UNKNOWN_START) {
            // we asked for this session ourselves, after connectStart
            lease.startBeforeConnect(sessionId(), connectStart, renewer.timeoutNanos());
        }
        // an external client's session may be of any age: its lease starts from a probe
        renewer.prime();
        this.toldHealthy = healthy();
        client.getConnectionStateListenable().addListener(this::connectionStateChanged);
        renewer.start();
    }

    /**
     * Waits (bounded) for a valid lease, so that a lockspace joined next starts ACTIVE. Without
     * one it would start SUSPENDED and resume once the lease is confirmed, a third of the session
     * timeout after the first answered renewal.
     */
    private ZkLockManager awaitLease(Duration timeout) throws DlmException {
        try {
            if (!renewer.awaitUsable(timeout.toNanos())) {
                LOG.warn("{}: no valid lease within {} ms; lockspaces start SUSPENDED", nodeName, timeout.toMillis());
            }
        } catch (InterruptedException e) {
            close();
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while waiting for the lease");
        }
        return this;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The write counters of a lockspace a {@code ZkLockManager} joined: what benchmarks report per operation. */
    public static WriteStats writeStats(LockSpace ls) {
        if (ls instanceof ZkLockSpace z) return z.writeStats();
        throw new IllegalArgumentException(ls + " is not a ZooKeeper lockspace");
    }

    /**
     * Joins (creating if needed) the lockspace {@code name}: claims a slot, reads the lockspace
     * and returns once this node is a member. Bounded by the options' request timeout.
     */
    @Override
    public LockSpace join(String name, LockSpaceOptions options) throws DlmException {
        ZkLockPaths.checkName("lockspace", name);
        ZooKeeper zk = zooKeeper();
        ZkLockSpace ls = new ZkLockSpace(this, zk, name, options);
        lockSpaces.add(ls);
        try {
            ls.join();
            return ls;
        } catch (DlmException | RuntimeException e) {
            lockSpaces.remove(ls);
            try {
                ls.close();
            } catch (DlmException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /** The ZooKeeper handle of the current session. */
    ZooKeeper zooKeeper() throws DlmException {
        try {
            return client.getZookeeperClient().getZooKeeper();
        } catch (Exception e) {
            throw new DlmException(DlmException.Code.UNAVAILABLE, "no ZooKeeper session: " + e.getMessage(), e);
        }
    }

    /** The current session id, or 0 when there is none. */
    public long sessionId() {
        try {
            return client.getZookeeperClient().getZooKeeper().getSessionId();
        } catch (Exception e) {
            return 0;
        }
    }

    /** Creates a persistent znode with the cluster's ACL and its missing parents. */
    void ensurePath(String path) throws KeeperException, InterruptedException {
        ZooKeeper zk;
        try {
            zk = client.getZookeeperClient().getZooKeeper();
        } catch (Exception e) {
            throw KeeperException.create(KeeperException.Code.CONNECTIONLOSS, path);
        }
        int from = 1;
        while (true) {
            int slash = path.indexOf('/', from);
            String prefix = slash < 0 ? path : path.substring(0, slash);
            try {
                zk.create(prefix, new byte[0], acl(), CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // fine: created before, by us or another node
            }
            if (slash < 0) {
                return;
            }
            from = slash + 1;
        }
    }

    private void connectionStateChanged(CuratorFramework c, ConnectionState s) {
        switch (s) {
            case SUSPENDED -> {
                connected = false;
                lockSpaces.forEach(ZkLockSpace::onSuspended);
            }
            case RECONNECTED -> {
                long session = sessionId();
                for (ZkLockSpace ls : lockSpaces) {
                    if (ls.incarnation() != session) {
                        ls.onLost("reconnected with a new session " + Long.toHexString(session));
                    }
                }
                // the lockspaces resume once the lease is valid as well (tellHealth)
                connected = true;
            }
            case LOST -> {
                connected = false;
                lockSpaces.forEach(ls -> ls.onLost("Curator reports the session lost"));
            }
            default -> {}
        }
        renewer.wake();
    }

    /**
     * Whether a lockspace of this session may be ACTIVE: connected, and the lease valid (with its
     * guard). The lockspaces read it before they resume; see the package doc, "The lease".
     */
    boolean healthy() {
        return connected && renewer.usable();
    }

    /** Tells every lockspace when {@link #healthy()} changed; on the renewer's thread only. */
    private void tellHealth() {
        boolean now = healthy();
        if (now == toldHealthy) {
            return;
        }
        toldHealthy = now;
        if (now) {
            long session = sessionId();
            lockSpaces.forEach(ls -> ls.onReconnected(session));
        } else {
            LOG.warn(
                    "{}: lease {} ({}), fencing every lockspace",
                    nodeName,
                    renewer.lease(),
                    connected ? "connected" : "disconnected");
            lockSpaces.forEach(ZkLockSpace::onSuspended);
        }
    }

    /** The lease deadline of session {@code session}, or a time already past if it is not the lease's. */
    long leaseDeadline(long session) {
        Lease.Term term = renewer.lease().term();
        return term.session() == session ? term.deadline() : System.nanoTime() - 1;
    }

    void forget(ZkLockSpace ls) {
        lockSpaces.remove(ls);
    }

    String root() {
        return root;
    }

    @Override
    public String cluster() {
        return cluster;
    }

    @Override
    public String nodeName() {
        return nodeName;
    }

    List<ACL> acl() {
        return credentials.acl();
    }

    /** The Curator client (for tests and tools that read the lockspace). */
    public CuratorFramework curator() {
        return client;
    }

    /**
     * The session timeout ZooKeeper granted (the server bounds the one asked for to 2..20 of its
     * ticks, and a dead node is recovered after the granted one), or empty while there is no
     * session.
     */
    public Optional<Duration> negotiatedSessionTimeout() {
        try {
            int ms = client.getZookeeperClient().getZooKeeper().getSessionTimeout();
            return ms > 0 ? Optional.of(Duration.ofMillis(ms)) : Optional.empty();
        } catch (Exception e) {
            return Optional.empty(); // closed or reconnecting: nothing to tell
        }
    }

    /** Leaves every lockspace gracefully, then closes the session if this manager opened it. */
    @Override
    public void close() {
        for (ZkLockSpace ls : lockSpaces) {
            try {
                ls.close();
            } catch (DlmException e) {
                LOG.warn("leaving {} on close: {}", ls.name(), e.getMessage());
            }
        }
        renewer.close();
        if (ownsClient) {
            client.close();
        }
    }

    static DlmException translate(String what, KeeperException e) {
        DlmException.Code code = switch (e.code()) {
            case NOAUTH, AUTHFAILED -> DlmException.Code.NO_AUTH;
            case SESSIONEXPIRED -> DlmException.Code.LOCKSPACE_LOST;
            default -> DlmException.Code.UNAVAILABLE;
        };
        // an ACL refusal says only "NoAuth for PATH": name the likely cause for the operator
        String hint = code == DlmException.Code.NO_AUTH
                ? " (wrong or missing ZooKeeper credentials: the cluster's znodes belong to another identity)"
                : "";
        return new DlmException(code, what + ": " + e.getMessage() + hint, e);
    }

    /** Builds a {@link ZkLockManager}; {@link #build()} connects. Not thread-safe. */
    public static final class Builder {
        private String connectString;
        private CuratorFramework external;
        private String root = ZkLockPaths.DEFAULT_ROOT;
        private String cluster;
        private String nodeName;
        private Duration sessionTimeout = Duration.ofSeconds(10);
        private Duration connectionTimeout = Duration.ofSeconds(15);
        private DlmCredentials credentials = DlmCredentials.none();
        private ZKClientConfig clientConfig;
        private boolean ensembleTracker = true;

        /** The ensemble, e.g. {@code zk1:2181,zk2:2181,zk3:2181}. */
        public Builder connectString(String s) {
            this.connectString = Objects.requireNonNull(s);
            return this;
        }

        /** Use an already started Curator client (its session is shared; it is not closed). */
        public Builder curator(CuratorFramework c) {
            this.external = c;
            return this;
        }

        /** The cluster name: the znode under the root that holds this cluster's lockspaces. */
        public Builder cluster(String c) {
            this.cluster = ZkLockPaths.checkName("cluster", c);
            return this;
        }

        /**
         * This node's name: its identity, stable across restarts (it keeps its slot when free).
         * While a member of a lockspace has this name, another node joining with it is refused
         * ({@link DlmException.Code#NODE_NAME_IN_USE}).
         */
        public Builder nodeName(String n) {
            this.nodeName = ZkLockPaths.checkName("node", n);
            return this;
        }

        /** The parent znode of all clusters, {@code /clustermd} by default. */
        public Builder root(String r) {
            ZkLockPaths.clusterRoot(r, "x");
            this.root = r;
            return this;
        }

        /**
         * The ZooKeeper session timeout asked for (the server may clamp it; the lease uses the
         * negotiated one). A node whose requests stop reaching ZooKeeper is told SUSPENDED when
         * its lease ends, five sixths of the timeout after the send of its last confirmed probe
         * (5/12 to 1/2 of it after the link failed); its locks go to others no
         * earlier than the whole timeout after the server last heard from it.
         */
        public Builder sessionTimeout(Duration t) {
            this.sessionTimeout = Objects.requireNonNull(t);
            return this;
        }

        public Builder connectionTimeout(Duration t) {
            this.connectionTimeout = Objects.requireNonNull(t);
            return this;
        }

        public Builder credentials(DlmCredentials c) {
            this.credentials = Objects.requireNonNull(c);
            return this;
        }

        /**
         * TLS to ZooKeeper (needed for x509 credentials): key and trust stores (PKCS12 or JKS, by
         * file extension as ZooKeeper decides).
         */
        public Builder tls(String keyStore, String keyStorePassword, String trustStore, String trustStorePassword) {
            this.clientConfig = ZkClientTls.keyAndTrustStores(
                            keyStore, keyStorePassword, trustStore, trustStorePassword)
                    .clientConfig();
            return this;
        }

        /**
         * Whether Curator follows the ensemble's configuration (on by default, as in Curator).
         * The tracker replaces the connect string with the client addresses the servers announce
         * in their configuration; behind proxies, NAT or port forwarding those are not the ones
         * this node can reach, so turn it off there and the configured connect string is kept.
         */
        public Builder ensembleTracker(boolean on) {
            this.ensembleTracker = on;
            return this;
        }

        /** Connects (bounded by the connection timeout) and returns the manager. */
        public ZkLockManager build() throws DlmException {
            Objects.requireNonNull(cluster, "cluster");
            Objects.requireNonNull(nodeName, "nodeName");
            if (external != null) {
                return new ZkLockManager(this, external, false, UNKNOWN_START).awaitLease(connectionTimeout);
            }
            Objects.requireNonNull(connectString, "connectString");
            CuratorFrameworkFactory.Builder cb = CuratorFrameworkFactory.builder()
                    .connectString(connectString)
                    .sessionTimeoutMs((int) sessionTimeout.toMillis())
                    .connectionTimeoutMs((int) connectionTimeout.toMillis())
                    // retries only cover the blocking calls of join; lock traffic never retries
                    .retryPolicy(new RetryNTimes(3, 200))
                    .ensembleTracker(ensembleTracker);
            if (credentials.authScheme() != null) {
                cb.authorization(credentials.authScheme(), credentials.authBytes());
            }
            if (clientConfig != null) {
                cb.zkClientConfig(clientConfig);
            } else if (credentials.tls() != null) {
                cb.zkClientConfig(credentials.tls().clientConfig());
            }
            CuratorFramework c = cb.build();
            // before the client asks for a session: the server creates it later, so it cannot
            // expire it before this time plus the timeout (the first lease)
            long connectStart = System.nanoTime();
            c.start();
            try {
                if (!c.blockUntilConnected((int) connectionTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
                    c.close();
                    throw new DlmException(
                            DlmException.Code.UNAVAILABLE,
                            "could not connect to ZooKeeper at " + connectString + " within "
                                    + connectionTimeout.toMillis() + " ms");
                }
            } catch (InterruptedException e) {
                c.close();
                Thread.currentThread().interrupt();
                throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while connecting");
            }
            return new ZkLockManager(this, c, true, connectStart).awaitLease(connectionTimeout);
        }
    }
}
