package org.clustermd.cluster;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.zk.DlmCredentials;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.ClusterOperations;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.WriteLease;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md-cluster for one array on this node ({@code md_cluster_info} plus {@code cluster_ops}):
 * the {@link ClusterOperations} the raid1 engine calls, on a {@link LockSpace} of the lock
 * manager on ZooKeeper. Give one to {@code ArrayOptions.builder().cluster(...)}; the array joins
 * at assembly and leaves at close.
 *
 * <pre>{@code
 * ClusterCoordinator cluster = ClusterCoordinator.builder()
 *         .connectString("127.0.0.1:2181").nodeName("node1").build();
 * try (Raid1Array md0 = Raid1Array.open(legs, ArrayOptions.builder().name("md0").cluster(cluster).build())) {
 *     ... md0.write(...) ...      // no ZooKeeper call on the data path
 * }                               // graceful leave
 * }</pre>
 *
 * <p><b>Join</b> (md-cluster-protocol.md c.2): connect as {@code nodeName} to the cluster named
 * by the bitmap's {@code cluster_name}; join the lockspace named by the array UUID with as many
 * slots as the bitmap has {@code nodes}; take this slot's {@code bitmapNNNN} lock in PW and hold
 * it for the whole membership; create {@code resync} at NL. At {@link #loadBitmaps} every other
 * slot is probed with PW+NOQUEUE: a free slot's dirty bits are merged into ours without clearing
 * them (c.4). <b>Node failure</b> (d): recover_prep suspends read balancing
 * ({@link MembershipState#RECOVERING}); recover_slot queues a {@link NodeRecovery} of the dead
 * slot on the {@code cluster-recover-<array>} thread; recover_done resumes balancing once no
 * recovery is pending. <b>Resync</b>: the sync thread takes {@code resync} in EX
 * ({@link #resyncStart}) and releases it after the final superblock update
 * ({@link #resyncFinish}). <b>Metadata</b>: superblock writes are serialized cluster-wide by
 * {@code token} in EX. What md-cluster does beyond that (messages) is listed in the package
 * documentation.
 *
 * <p>The data path calls only {@link #areaResyncing}, which reads volatile fields and nothing else.
 *
 * <p>Thread-safe. One instance serves one array once: join, then leave.
 */
public final class ClusterCoordinator implements ClusterOperations {
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final Config config;
    private final ClusterListener listener;
    private final AtomicBoolean joinCalled = new AtomicBoolean();
    private final AtomicBoolean leaveCalled = new AtomicBoolean();

    /** The membership state machine; created at join (it names the array). */
    private volatile Membership membership;

    private volatile Mddev array;
    private volatile ZkLockManager manager;
    private volatile LockSpace lockSpace;
    private volatile LockResource bitmapLock;
    private volatile LockResource resyncLock;
    private volatile LockResource tokenLock;
    private volatile RecoveryThread recovery;
    private volatile SessionFence session;
    private final WriteLease lease = new LockSpaceLease(() -> lockSpace);

    /** The builder's values, copied: a builder used again later changes nothing here. */
    private record Config(String connectString, String nodeName, String root, Duration sessionTimeout,
            Duration connectionTimeout, Duration requestTimeout, Duration recoveryLockWait, DlmCredentials credentials) {}

    private ClusterCoordinator(Builder b) {
        this.config = new Config(b.connectString, b.nodeName, b.root, b.sessionTimeout, b.connectionTimeout, b.requestTimeout,
                b.recoveryLockWait, b.credentials);
        this.listener = b.listener;
    }

    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ membership state

    /** This node's membership. */
    public MembershipState state() {
        Membership m = membership;
        return m == null ? MembershipState.JOINING : m.state();
    }

    /** Whether reads go to the first in-sync leg only (recover_prep until recover_done and the dead slots are merged). */
    public boolean readBalancingSuspended() {
        Membership m = membership;
        return m != null && m.readBalancingSuspended();
    }

    /** The lockspace name (the array UUID), once joined. */
    public Optional<String> lockSpaceName() {
        LockSpace ls = lockSpace;
        return ls == null ? Optional.empty() : Optional.of(ls.name());
    }

    /** The live members' slots as this node last saw them (empty before join and after leave). */
    public Set<NodeSlot> members() {
        LockSpace ls = lockSpace;
        MembershipState s = state();
        return ls == null || s == MembershipState.LEFT ? Set.of() : ls.members();
    }

    /** The lock manager session's health, or empty before join. */
    public Optional<LockSpaceState> sessionState() {
        LockSpace ls = lockSpace;
        return ls == null ? Optional.empty() : Optional.of(ls.state());
    }

    /** Dead slots whose recovery is still pending here. */
    public Set<Integer> pendingRecoveries() {
        RecoveryThread r = recovery;
        return r == null ? Set.of() : r.pending();
    }

    /** Dirty chunks this node moved into its own bitmap from dead nodes' slots. */
    public long dirtyChunksRecovered() {
        RecoveryThread r = recovery;
        return r == null ? 0 : r.dirtyChunksMoved();
    }

    /**
     * The session timeout ZooKeeper granted, once joined: the server bounds the one asked for to
     * 2..20 of its ticks, and a dead node is recovered after the granted one, not the asked one.
     */
    public Optional<Duration> negotiatedSessionTimeout() {
        ZkLockManager m = manager;
        if (m == null) return Optional.empty();
        try {
            int ms = m.curator().getZookeeperClient().getZooKeeper().getSessionTimeout();
            return ms > 0 ? Optional.of(Duration.ofMillis(ms)) : Optional.empty();
        } catch (Exception e) {
            return Optional.empty(); // closed or reconnecting: nothing to tell
        }
    }

    /** The lock manager connection (tests expire its session). */
    ZkLockManager lockManager() {
        return manager;
    }

    // ------------------------------------------------------------------ join and leave

    @Override
    public boolean isClustered() {
        return true;
    }

    @Override
    public void join(Mddev mddev, int nodes) throws Raid1Exception {
        Objects.requireNonNull(mddev, "array");
        if (!joinCalled.compareAndSet(false, true)) throw new IllegalStateException("join called twice");
        this.array = mddev;
        Membership m = new Membership(mddev.name(), listener, () -> {
            RecoveryThread r = recovery;
            return r != null && r.hasPending();
        });
        membership = m;
        String clusterName = mddev.clusterName();
        if (clusterName == null || clusterName.isEmpty()) {
            m.transition(Set.of(MembershipState.JOINING), MembershipState.LEFT);
            throw cluster("the array has no clustered bitmap (no cluster_name): it cannot join a cluster", null);
        }
        UUID uuid = mddev.uuid();
        try {
            manager = ZkLockManager.builder().connectString(config.connectString()).root(config.root()).cluster(clusterName)
                    .nodeName(config.nodeName()).sessionTimeout(config.sessionTimeout())
                    .connectionTimeout(config.connectionTimeout()).credentials(config.credentials()).build();
            session = new SessionFence(mddev, () -> m.transition(Membership.NOT_LEFT, MembershipState.LEFT));
            // before the lockspace: its callbacks may come before join returns
            recovery = new RecoveryThread(mddev, () -> lockSpace, config.recoveryLockWait(), listener, m::recoveryPendingChanged);
            LockSpace ls = manager.join(uuid.toString(), LockSpaceOptions.of(nodes).withRequestTimeout(config.requestTimeout())
                    .withListener(new Callbacks()));
            lockSpace = ls;
            NodeSlot slot = ls.slot();
            // held in PW for the whole membership: our bitmap is ours, and the lock says we live
            bitmapLock = ls.resource(slot.bitmapLockName());
            convertWhenLeased(ls, bitmapLock, LockMode.PW);
            resyncLock = ls.resource("resync");
            convertWhenLeased(ls, resyncLock, LockMode.NL);
            tokenLock = ls.resource("token");
            log.info("{}: joined cluster {} lockspace {} as {} of {} (node {})", mddev.name(), clusterName, uuid, slot, nodes,
                    config.nodeName());
        } catch (DlmException | RuntimeException e) {
            abandon();
            if (e instanceof DlmException d && d.code() == DlmException.Code.SLOTS_EXHAUSTED) {
                throw cluster("every one of the bitmap's " + nodes + " node slots is taken", e);
            }
            throw cluster("joining cluster " + clusterName + " at " + config.connectString() + " failed: " + e.getMessage(), e);
        }
        if (!m.joined()) throw cluster("the lock manager session was lost while joining", null);
    }

    /**
     * The lockspace's lease (docs/design.md, the fence): valid while the session is ACTIVE and
     * before the lease deadline, never before join. Reads two volatile fields and the clock.
     */
    @Override
    public WriteLease writeLease() {
        return lease;
    }

    /**
     * A join-time conversion that a lapsed lease refused (SUSPENDED: a busy machine may miss a
     * renewal while the JVM starts) is tried again once the lease is valid, within the connection
     * timeout; nothing is held yet, so waiting is safe. Any other failure, or a lease that does
     * not come back, fails the join.
     */
    private void convertWhenLeased(LockSpace ls, LockResource r, LockMode mode) throws DlmException {
        long deadline = System.nanoTime() + config.connectionTimeout().toNanos();
        while (true) {
            try {
                r.convert(mode);
                return;
            } catch (DlmException e) {
                long left = deadline - System.nanoTime();
                if (e.code() != DlmException.Code.SUSPENDED || left <= 0) throw e;
                log.warn("{}: {} refused while the lease lapsed; waiting for it to be renewed", arrayName(), r.name());
                try {
                    if (!ls.awaitLease(Duration.ofNanos(left))) throw e;
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    @Override
    public int slotNumber() {
        LockSpace ls = lockSpace;
        if (ls == null) throw new IllegalStateException("not joined");
        return ls.slot().number();
    }

    /**
     * md's {@code load_bitmaps}: gather what the other slots hold ({@link SlotGather}), then
     * start recovering the dead slots reported meanwhile.
     */
    @Override
    public void loadBitmaps(WriteIntentBitmap bitmap) throws Raid1Exception {
        LockSpace ls = member();
        if (bitmap == null) throw cluster("a clustered array needs its bitmap", null);
        SlotGather.gather(ls, bitmap, array);
        recovery.start(bitmap);
    }

    /**
     * Leaves gracefully: stops the recovery thread, releases every lock (our bitmap lock last
     * of all, with the lockspace) and closes the session. md would first send BITMAP_NEEDS_SYNC
     * when {@code arrayInSync} is false; that message does not exist yet, so the bits stay in our
     * slot for whoever joins into it or gathers it. Never throws; idempotent.
     */
    @Override
    public void leave(boolean arrayInSync) {
        if (!leaveCalled.compareAndSet(false, true)) return;
        Membership m = membership;
        if (m != null) m.transition(Membership.MEMBER, MembershipState.LEAVING);
        if (!arrayInSync) {
            log.warn("{}: leaving with resync work left; the bits stay in our bitmap slot (BITMAP_NEEDS_SYNC is not sent yet)",
                    arrayName());
        }
        RecoveryThread r = recovery;
        if (r != null) r.stop();
        abandon();
        if (m != null) m.transition(Membership.NOT_LEFT, MembershipState.LEFT);
    }

    /** Closes the lockspace, the session and the session thread, whatever state they are in. */
    private void abandon() {
        LockSpace ls = lockSpace;
        if (ls != null) {
            try {
                ls.close();
            } catch (DlmException e) {
                log.warn("{}: leaving lockspace {}: {}", arrayName(), ls.name(), e.getMessage());
            }
        }
        ZkLockManager zk = manager;
        if (zk != null) zk.close();
        SessionFence s = session;
        if (s != null) s.close();
        Membership m = membership;
        if (m != null) m.transition(Set.of(MembershipState.JOINING), MembershipState.LEFT);
    }

    // ------------------------------------------------------------------ resync

    @Override
    public void resyncStart() throws Raid1Exception, InterruptedException {
        member();
        LockResource r = resyncLock;
        CompletableFuture<LockGrant> grant = r.convertAsync(LockMode.EX);
        try {
            grant.get();
        } catch (InterruptedException e) {
            try {
                if (!r.cancel() && r.grantedMode().orElse(LockMode.NL) == LockMode.EX) r.convert(LockMode.NL);
            } catch (DlmException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } catch (ExecutionException e) {
            throw cluster("taking the resync lock failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /** RESYNCING_START is not sent yet: nobody waits for it. */
    @Override
    public void resyncStartNotify() throws Raid1Exception {
        member();
    }

    /**
     * The window is where the sync thread works next. md publishes it in our bitmap lock's LVB
     * and sends RESYNCING so peers stop writing there; both come with the message channel, so
     * peers must keep out of a window by themselves for now (each node writes its own region).
     */
    @Override
    public void resyncInfoUpdate(long lo, long hi) throws Raid1Exception {
        if (lo < 0 || hi < lo) throw new IllegalArgumentException("bad resync window [" + lo + ", " + hi + ")");
        member();
    }

    @Override
    public void resyncFinish(boolean closing) throws Raid1Exception {
        LockResource r = resyncLock;
        if (r == null) return;
        try {
            r.convert(LockMode.NL);
        } catch (DlmException e) {
            throw cluster("releasing the resync lock failed: " + e.getMessage(), e);
        }
    }

    /** No RESYNCING message is received yet, so no peer is known to resync. */
    @Override
    public boolean resyncingRemote() {
        return false;
    }

    @Override
    public boolean areaResyncing(Direction direction, long lo, long hi) {
        // no suspended write windows until RESYNCING messages exist
        return direction == Direction.READ && readBalancingSuspended();
    }

    // ------------------------------------------------------------------ metadata

    /** md's {@code metadata_update_start}: {@code token} in EX serializes superblock writes cluster-wide. */
    @Override
    public void metadataUpdateStart() throws Raid1Exception {
        member();
        try {
            tokenLock.convert(LockMode.EX);
        } catch (DlmException e) {
            throw cluster("taking the token for a superblock update failed: " + e.getMessage(), e);
        }
    }

    /** Releases {@code token}; METADATA_UPDATED (peers reload the superblock) is not sent yet. */
    @Override
    public void metadataUpdateFinish(int goodDevNumber) throws Raid1Exception {
        try {
            tokenLock.convert(LockMode.NL);
        } catch (DlmException e) {
            throw cluster("releasing the token failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void metadataUpdateCancel() {
        LockResource t = tokenLock;
        if (t == null) return;
        try {
            t.convert(LockMode.NL);
        } catch (DlmException e) {
            log.warn("{}: releasing the token: {}", arrayName(), e.getMessage());
        }
    }

    // ------------------------------------------------------------------ devices (need messages)

    @Override
    public void addNewDisk(UUID deviceUuid, int devNumber) throws Raid1Exception {
        throw notYet("adding a device (NEWDISK)");
    }

    @Override
    public void addNewDiskCancel() {}

    @Override
    public void newDiskAck(boolean ack) throws Raid1Exception {
        throw notYet("confirming a device (NEWDISK)");
    }

    @Override
    public void removeDisk(int devNumber) throws Raid1Exception {
        throw notYet("removing a device (REMOVE)");
    }

    @Override
    public void gatherBitmaps(int devNumber, WriteIntentBitmap bitmap) throws Raid1Exception {
        throw notYet("re-adding a device (RE_ADD)");
    }

    // ------------------------------------------------------------------ helpers

    private LockSpace member() throws Raid1Exception {
        LockSpace ls = lockSpace;
        if (ls == null) throw new IllegalStateException("not joined");
        MembershipState s = state();
        if (s == MembershipState.LEFT) throw new Raid1Exception(Raid1Exception.Code.CLOSED, arrayName() + ": not a cluster member");
        return ls;
    }

    private Raid1Exception notYet(String what) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, arrayName() + ": " + what
                + " in a cluster needs md-cluster's messages, which this build does not send yet");
    }

    private Raid1Exception cluster(String message, Throwable cause) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, arrayName() + ": " + message, cause);
    }

    private String arrayName() {
        Mddev a = array;
        return a == null ? "(array)" : a.name();
    }

    @Override
    public String toString() {
        LockSpace ls = lockSpace;
        return "ClusterCoordinator[" + config.nodeName() + ", " + state() + (ls == null ? "" : ", " + ls.slot()) + "]";
    }

    /** The lockspace's callbacks: quick, on its callback thread (session health on its session thread). */
    private final class Callbacks implements LockSpaceListener {
        @Override
        public void recoveryStarted() {
            membership.recoveryStarted();
            listener.recoverPrep();
        }

        @Override
        public void memberLost(NodeSlot slot) {
            log.warn("{}: node in {} died; recovering its bitmap", arrayName(), slot);
            listener.recoverSlot(slot);
            RecoveryThread r = recovery;
            if (r != null) r.add(slot);
        }

        @Override
        public void recoveryFinished(NodeSlot ourSlot, Set<NodeSlot> members) {
            if (membership.recoveryFinished()) listener.recoverDone(members);
        }

        @Override
        public void stateChanged(LockSpaceState s) {
            SessionFence f = session;
            if (f != null) f.stateChanged(s);
        }
    }

    /** Builds a {@link ClusterCoordinator}; not thread-safe. */
    public static final class Builder {
        private String connectString;
        private String nodeName;
        private String root = "/clustermd";
        private Duration sessionTimeout = Duration.ofSeconds(10);
        private Duration connectionTimeout = Duration.ofSeconds(15);
        private Duration requestTimeout = Duration.ofSeconds(30);
        private Duration recoveryLockWait = Duration.ofMinutes(5);
        private DlmCredentials credentials = DlmCredentials.none();
        private ClusterListener listener = new ClusterListener() {};

        private Builder() {}

        /** The ZooKeeper ensemble, e.g. {@code zk1:2181,zk2:2181,zk3:2181}. Required. */
        public Builder connectString(String v) {
            this.connectString = Objects.requireNonNull(v, "connectString");
            return this;
        }

        /** This node's name, stable across restarts (it gets its slot back when free). Required. */
        public Builder nodeName(String v) {
            this.nodeName = Objects.requireNonNull(v, "nodeName");
            return this;
        }

        /** The znode holding every cluster (default {@code /clustermd}). */
        public Builder root(String v) {
            this.root = Objects.requireNonNull(v, "root");
            return this;
        }

        /** The ZooKeeper session timeout: a dead node is recovered this long after it stopped. */
        public Builder sessionTimeout(Duration v) {
            this.sessionTimeout = positive(v, "sessionTimeout");
            return this;
        }

        public Builder connectionTimeout(Duration v) {
            this.connectionTimeout = positive(v, "connectionTimeout");
            return this;
        }

        /** The bound of every lock request but the resync lock (md: 30 s). */
        public Builder requestTimeout(Duration v) {
            this.requestTimeout = positive(v, "requestTimeout");
            return this;
        }

        /** How long one recovery episode waits for a dead slot's bitmap lock before it retries. */
        public Builder recoveryLockWait(Duration v) {
            this.recoveryLockWait = positive(v, "recoveryLockWait");
            return this;
        }

        public Builder credentials(DlmCredentials v) {
            this.credentials = Objects.requireNonNull(v, "credentials");
            return this;
        }

        public Builder listener(ClusterListener v) {
            this.listener = Objects.requireNonNull(v, "listener");
            return this;
        }

        public ClusterCoordinator build() {
            Objects.requireNonNull(connectString, "connectString");
            Objects.requireNonNull(nodeName, "nodeName");
            return new ClusterCoordinator(this);
        }

        private static Duration positive(Duration d, String what) {
            Objects.requireNonNull(d, what);
            if (d.isNegative() || d.isZero()) throw new IllegalArgumentException(what + " must be positive: " + d);
            return d;
        }
    }
}
