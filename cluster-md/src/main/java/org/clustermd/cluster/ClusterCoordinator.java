package org.clustermd.cluster;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicBoolean;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.cluster.message.ChannelBounds;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockManager;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
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
 * the {@link ClusterOperations} the raid1 engine calls, on a {@link LockSpace} of a
 * {@link LockManager}. Give one to {@code ArrayOptions.builder().cluster(...)}; the array joins
 * at assembly and leaves at close. The lock manager is either the embedder's
 * ({@link Builder#lockManager}: any implementation, connected by its owner, who also closes it) or
 * one on ZooKeeper that the coordinator connects at join and closes at leave
 * ({@link Builder#connectString}, as the CLI does).
 *
 * <pre>{@code
 * ClusterCoordinator cluster = ClusterCoordinator.builder()
 *         .connectString("127.0.0.1:2181").nodeName("node1").build();
 * try (Raid1Array md0 = Raid1Array.open(legs, ArrayOptions.builder().name("md0").cluster(cluster).build())) {
 *     ... md0.write(...) ...      // no ZooKeeper call on the data path
 * }                               // graceful leave
 * }</pre>
 *
 * <p><b>Join</b> (docs/md-cluster-protocol.md §c.2): connect as {@code nodeName} to the cluster
 * the bitmap's {@code cluster_name} names; join the lockspace named by the array UUID with the
 * bitmap's {@code nodes} slots (one more is refused with CLUSTER); under {@code token} EX, kept
 * until our slot is open (docs/lessons.md §61), take our {@code bitmapNNNN} in PW for the whole
 * membership, create {@code resync} at NL, arm {@code ack} in CR, re-read the superblock
 * ({@link MessageChannel}); create {@code foreground} at NL ({@link PeerActivity}). At
 * {@link #loadBitmaps} the token is released, every other slot probed with PW+NOQUEUE (a free
 * slot's dirty bits merged into ours, not cleared, §c.4), then messages handled. <b>Node
 * failure</b> (§d): recover_prep suspends read balancing ({@link MembershipState#RECOVERING});
 * recover_slot queues a {@link NodeRecovery} on {@code cluster-recover-<array>}; recover_done
 * resumes balancing once none is pending. <b>Resync</b>: the sync thread takes {@code resync} in
 * EX ({@link #resyncStart}), announces each window ({@link ResyncAnnouncer}; peers hold writes
 * there, {@link PeerResyncs}), releases it after the final superblock update. <b>Metadata</b>
 * (§f.5): every superblock write holds {@code token} EX and ends with METADATA_UPDATED, which
 * every peer processes before it acknowledges. The rest: the package documentation.
 * The data path calls only {@link #areaResyncing}, which reads volatile fields and nothing else.
 *
 * <p>This class owns the membership, the lock manager, the lockspace and what join creates on
 * it, and the order of leave. Its parts: {@link JoinSteps}, {@link LockSpaceCallbacks},
 * {@link MessageReceiver}, {@link HandOver} (leave's first half, BITMAP_NEEDS_SYNC),
 * {@link ResyncLock}, {@link TokenPermits} (the token held across calls), {@link DeviceMessages}
 * (the device changes' send sides) and {@link CapacityChange} (a size grow).
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
    /** The lock manager in use, once join has it: the embedder's, or one connected at join. */
    private volatile LockManager manager;

    private volatile LockSpace lockSpace;
    private volatile LockResource bitmapLock;
    private final ResyncLock resync = new ResyncLock(this);
    private volatile PeerResyncs peers;
    private volatile MessageChannel channel;
    private final ResyncAnnouncer announcer = new ResyncAnnouncer(this, () -> bitmapLock, () -> channel);
    private final TokenPermits permits = new TokenPermits(this);
    private final DeviceMessages devices = new DeviceMessages(() -> channel, () -> array);
    private volatile RecoveryThread recovery;
    private volatile PeerActivity activity;
    private volatile SessionFence session;
    private final WriteLease lease = new LockSpaceLease(() -> lockSpace);
    private final HandOver handOver;

    /**
     * The builder's values, copied: a builder used again later changes nothing here. Either
     * {@code given} (the embedder's lock manager, never closed here) or {@code connectString}
     * (with nodeName, root, timeouts and credentials for the manager connected at join) is set.
     */
    record Config(
            LockManager given,
            String connectString,
            String nodeName,
            String root,
            Duration sessionTimeout,
            Duration connectionTimeout,
            Duration requestTimeout,
            Duration recoveryLockWait,
            DlmCredentials credentials,
            DeviceLocator locator) {}

    private ClusterCoordinator(Builder b) {
        this.config = new Config(
                b.lockManager,
                b.connectString,
                b.lockManager != null ? b.lockManager.nodeName() : b.nodeName,
                b.root,
                b.sessionTimeout,
                b.connectionTimeout,
                b.requestTimeout,
                b.recoveryLockWait,
                b.credentials,
                b.locator);
        this.listener = b.listener;
        this.handOver = new HandOver(this, listener, () -> membership, () -> lockSpace, () -> channel, () -> recovery);
    }

    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ membership state

    /** This node's membership. */
    public MembershipState state() {
        return Optional.ofNullable(membership).map(Membership::state).orElse(MembershipState.JOINING);
    }

    /** Whether reads go to the first in-sync leg only (recover_prep until recover_done and the dead slots are merged). */
    public boolean readBalancingSuspended() {
        Membership m = membership; // on the read path: no allocation
        return m != null && m.readBalancingSuspended();
    }

    /** The lockspace name (the array UUID), once joined. */
    public Optional<String> lockSpaceName() {
        return Optional.ofNullable(lockSpace).map(LockSpace::name);
    }

    /** The live members' slots as this node last saw them (empty before join and after leave). */
    public Set<NodeSlot> members() {
        LockSpace ls = lockSpace;
        return ls == null || state() == MembershipState.LEFT ? Set.of() : ls.members();
    }

    /** The lock manager session's health, or empty before join. */
    public Optional<LockSpaceState> sessionState() {
        return Optional.ofNullable(lockSpace).map(LockSpace::state);
    }

    /** Dead slots whose recovery is still pending here. */
    public Set<Integer> pendingRecoveries() {
        return Optional.ofNullable(recovery).map(RecoveryThread::pending).orElse(Set.of());
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
        return manager instanceof ZkLockManager zk ? zk.negotiatedSessionTimeout() : Optional.empty();
    }

    /** The lock manager in use, null before join (tests expire its session). */
    LockManager lockManager() {
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
        JoinSteps steps = new JoinSteps(config, mddev.name());
        String clusterName = mddev.clusterName();
        steps.checkCluster(this, m, clusterName);
        UUID uuid = mddev.uuid();
        ChannelBounds bounds = ChannelBounds.fromTokenWait(config.requestTimeout());
        steps.warnAboutBounds(mddev, bounds);
        peers = new PeerResyncs(mddev, bounds.handler());
        try {
            manager = steps.lockManagerFor(clusterName);
            session = new SessionFence(mddev, () -> m.transition(Membership.NOT_LEFT, MembershipState.LEFT));
            // before the lockspace: its callbacks may come before join returns
            recovery = new RecoveryThread(
                    mddev, () -> lockSpace, config.recoveryLockWait(), listener, m::recoveryPendingChanged);
            LockSpace ls = manager.join(
                    uuid.toString(),
                    LockSpaceOptions.of(nodes)
                            .withRequestTimeout(config.requestTimeout())
                            .withListener(new LockSpaceCallbacks(
                                    mddev.name(), m, listener, () -> recovery, () -> session, peers)));
            lockSpace = ls;
            NodeSlot slot = ls.slot();
            // held in PW for the whole membership: our bitmap is ours, and the lock says we live
            bitmapLock = ls.resource(slot.bitmapLockName());
            LockResource resyncLock = ls.resource("resync");
            resync.attach(resyncLock);
            var receiver = new MessageReceiver(mddev, () -> channel, config.locator(), listener, peers, handOver);
            channel = steps.openChannel(
                    this, mddev, ls, bounds, receiver, bitmapLock, resyncLock, announcer::clearLeftOver);
            activity = PeerActivity.start(mddev.name(), ls.resource(PeerActivity.RESOURCE), mddev::foregroundRequests);
            steps.logJoined(clusterName, uuid, slot, nodes);
        } catch (Raid1Exception e) {
            abandon();
            throw e;
        } catch (DlmException | RuntimeException e) {
            abandon();
            if (e instanceof DlmException d && d.code() == DlmException.Code.SLOTS_EXHAUSTED) {
                throw cluster("every one of the bitmap's " + nodes + " node slots is taken", e);
            }
            throw cluster("joining cluster " + clusterName + steps.where() + " failed: " + e.getMessage(), e);
        }
        if (!m.joined()) throw cluster("the lock manager session was lost while joining", null);
    }

    /** The lease (docs/design.md, the fence): valid while ACTIVE and before its deadline, never before join. */
    @Override
    public WriteLease writeLease() {
        return lease;
    }

    @Override
    public Set<Integer> peerSlots() {
        return DeviceMessages.peerSlots(members(), lockSpace);
    }

    @Override
    public int slotNumber() {
        LockSpace ls = lockSpace;
        if (ls == null) throw new IllegalStateException("not joined");
        return ls.slot().number();
    }

    /** md's {@code load_bitmaps}: the other slots gathered ({@link SlotGather}), then recovery and messages start. */
    @Override
    public void loadBitmaps(WriteIntentBitmap bitmap) throws Raid1Exception {
        LockSpace ls = member();
        channel.endJoin(); // our slot is open at the size the superblock had under the token
        if (bitmap == null) throw cluster("a clustered array needs its bitmap", null);
        SlotGather.gather(ls, bitmap, array, peers, config.connectionTimeout());
        recovery.start(bitmap);
        channel.startHandling();
    }

    /** md's leave, first half, before the engine closes the bitmap: {@link HandOver#leaving}. */
    @Override
    public void handOver(boolean arrayInSync) {
        handOver.leaving(arrayInSync);
    }

    /**
     * md's leave: the hand-over unless the engine asked for it first ({@link #handOver}), then every
     * lock released (our bitmap lock last, with the lockspace), the session closed; never throws.
     */
    @Override
    public void leave(boolean arrayInSync) {
        if (!leaveCalled.compareAndSet(false, true)) return;
        handOver.leaving(arrayInSync);
        abandon();
        Membership m = membership;
        if (m != null) m.transition(Membership.NOT_LEFT, MembershipState.LEFT);
    }

    /** Closes the lockspace, the session and the session thread, whatever state they are in. */
    private void abandon() {
        PeerActivity a = activity;
        if (a != null) a.close();
        MessageChannel c = channel;
        if (c != null) c.close();
        LockSpace ls = lockSpace;
        if (ls != null) {
            try {
                ls.close();
            } catch (DlmException e) {
                log.warn("{}: leaving lockspace {}: {}", arrayName(), ls.name(), e.getMessage());
            }
        }
        LockManager lm = manager;
        if (lm != null && lm != config.given()) lm.close();
        SessionFence s = session;
        if (s != null) s.close();
        Membership m = membership;
        if (m != null) m.transition(Set.of(MembershipState.JOINING), MembershipState.LEFT);
    }

    // ------------------------------------------------------------------ resync

    @Override
    public void resyncStart() throws Raid1Exception, InterruptedException {
        member();
        resync.take();
    }

    @Override
    public void resyncStartNotify() throws Raid1Exception {
        announcer.started(); // after resyncStart, which checked membership
    }

    @Override
    public boolean waitingForSync() {
        return peers != null && peers.waiting().waiting(); // set once, at join
    }

    @Override
    public void resyncInfoUpdate(long lo, long hi) throws Raid1Exception {
        if (lo < 0 || hi < lo) throw new IllegalArgumentException("bad resync window [" + lo + ", " + hi + ")");
        member();
        announcer.announce(lo, hi);
    }

    @Override
    public void resyncFinish(boolean closing) throws Raid1Exception {
        try {
            announcer.end(); // also when closing: a graceful leave is no death, peers would keep the window
        } finally {
            resync.release();
        }
    }

    @Override
    public boolean resyncingRemote() {
        return peers != null && peers.windows().any();
    }

    @Override // the foreground lock's answer, PeerActivity
    public boolean peersBusy() {
        PeerActivity a = activity;
        return a != null && a.peersBusy();
    }

    @Override
    public boolean areaResyncing(Direction direction, long lo, long hi) {
        PeerResyncs p = peers;
        if (p != null && p.windows().overlaps(lo, hi)) return true;
        return direction == Direction.READ && readBalancingSuspended();
    }

    // ------------------------------------------------------------------ metadata

    /**
     * md's {@code metadata_update_start}: this node's send slot and {@code token} in EX (md's
     * lock_comm), held until {@link #metadataUpdateFinish} or {@link #metadataUpdateCancel}: two
     * nodes never write superblocks at once, and the writer's events start from the highest it
     * knows, since every earlier writer's METADATA_UPDATED was processed here before its token
     * was released.
     */
    @Override
    public void metadataUpdateStart() throws Raid1Exception {
        member();
        permits.updateStart();
    }

    /**
     * md's {@code metadata_update_finish}: METADATA_UPDATED naming {@code goodDevNumber}, acknowledged by
     * every peer once it reloaded the superblock, then the token is released (also when the broadcast fails).
     */
    @Override
    public void metadataUpdateFinish(int goodDevNumber) throws Raid1Exception {
        permits.updateFinish(goodDevNumber);
    }

    @Override
    public void metadataUpdateCancel() {
        permits.updateCancel();
    }

    @Override // md's update_size, once the superblocks carry the new size: CapacityChange
    public void updateSize(long oldSectors, long newSectors, WriteIntentBitmap bitmap) throws Raid1Exception {
        CapacityChange.update(array, member(), permits, channel, bitmap, oldSectors, newSectors);
    }

    @Override // token EX from a size change's prepare to its end (docs/lessons.md §61)
    public void sizeChangeStart() throws Raid1Exception {
        if (member() != null) permits.sizeChangeStart();
    }

    @Override
    public void sizeChangeEnd() {
        permits.sizeChangeEnd();
    }

    // ------------------------------------------------------------------ receive

    /** Messages this node broadcast and every peer acknowledged. */
    public long messagesSent() {
        return channel == null ? 0 : channel.messagesSent(); // set once, at join
    }

    /** Messages this node processed and acknowledged. */
    public long messagesReceived() {
        return channel == null ? 0 : channel.messagesReceived(); // set once, at join
    }

    /** Messages this node refused to acknowledge (unknown, malformed, not handled by this build). */
    public long messagesRefused() {
        return channel == null ? 0 : channel.messagesRefused(); // set once, at join
    }

    /** The channel, for tests that broadcast without an engine update. */
    MessageChannel channel() {
        return channel;
    }

    // ------------------------------------------------------------------ devices (send sides)

    /**
     * md's {@code add_new_disk}: NEWDISK under the token, then the {@code no-new-dev} vote; the
     * token stays held (md's SEND_LOCKED_ALREADY) for the update that commits the add.
     */
    @Override
    public int addNewDisk(UUID deviceUuid, NewDiskLabel label) throws Raid1Exception {
        member();
        return permits.addNewDisk(deviceUuid, label);
    }

    @Override
    public void addNewDiskCancel() {
        permits.addNewDiskCancel();
    }

    /** md's {@code remove_disk}: REMOVE, acknowledged by every peer. */
    @Override
    public void removeDisk(int devNumber) throws Raid1Exception {
        member();
        devices.removeDisk(devNumber);
    }

    /**
     * md's {@code gather_bitmaps}: {@code check} and RE_ADD under the token, as an add's label and
     * NEWDISK (docs/lessons.md §67), then every other slot's bits merged into ours, not cleared.
     */
    @Override
    public void gatherBitmaps(int devNumber, ReAddCheck check, WriteIntentBitmap bitmap) throws Raid1Exception {
        devices.gatherBitmaps(member(), devNumber, check, bitmap);
    }

    // ------------------------------------------------------------------ helpers

    private LockSpace member() throws Raid1Exception {
        LockSpace ls = lockSpace;
        if (ls == null) throw new IllegalStateException("not joined");
        if (state() == MembershipState.LEFT)
            throw new Raid1Exception(Raid1Exception.Code.CLOSED, arrayName() + ": not a cluster member");
        return ls;
    }

    Raid1Exception cluster(String message, Throwable cause) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, arrayName() + ": " + message, cause);
    }

    String arrayName() {
        Mddev a = array;
        return a == null ? "(array)" : a.name();
    }

    @Override
    public String toString() {
        LockSpace ls = lockSpace;
        return "ClusterCoordinator[" + config.nodeName() + ", " + state() + (ls == null ? "" : ", " + ls.slot()) + "]";
    }

    /** Builds a {@link ClusterCoordinator}; not thread-safe. */
    public static final class Builder {
        private String connectString;
        private String nodeName;
        private String root = "/clustermd";
        private Duration sessionTimeout = Duration.ofSeconds(10);
        private Duration connectionTimeout = Duration.ofSeconds(15);
        private Duration requestTimeout = Duration.ofSeconds(20);
        private Duration recoveryLockWait = Duration.ofMinutes(5);
        private DlmCredentials credentials = DlmCredentials.none();
        private ClusterListener listener = new ClusterListener() {};
        private LockManager lockManager;
        private DeviceLocator locator = DeviceLocator.NONE;

        private Builder() {}

        /**
         * The lock manager to join through, connected and owned by the caller (leave does not close
         * it); it must serve the array's cluster. Instead of {@link #connectString}: the node name
         * is the manager's, and root, session and connection timeouts and credentials do not apply.
         */
        public Builder lockManager(LockManager v) {
            this.lockManager = Objects.requireNonNull(v, "lockManager");
            return this;
        }

        /**
         * The ZooKeeper ensemble, e.g. {@code zk1:2181,zk2:2181,zk3:2181}: the coordinator
         * connects a lock manager there at join and closes it at leave. Required unless
         * {@link #lockManager} is given.
         */
        public Builder connectString(String v) {
            this.connectString = Objects.requireNonNull(v, "connectString");
            return this;
        }

        /** This node's name, stable across restarts (it gets its slot back when free). Required with {@link #connectString}. */
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

        /**
         * The bound of every lock request but the resync lock (md: 30 s), and the channel's token
         * wait: the ack wait is 2/3 of it, a handler's bound 1/3 ({@link ChannelBounds#fromTokenWait}).
         * Below the array's I/O wait ({@code ArrayOptions.ioWait}, 30 s), which covers a superblock
         * update with its broadcast (join warns otherwise); default 20 s.
         */
        public Builder requestTimeout(Duration v) {
            this.requestTimeout = positive(v, "requestTimeout");
            return this;
        }

        /** Finds the devices peers add (NEWDISK); default {@link DeviceLocator#NONE}: every add is refused. */
        public Builder deviceLocator(DeviceLocator v) {
            this.locator = Objects.requireNonNull(v, "deviceLocator");
            return this;
        }

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
            if (lockManager != null) {
                if (connectString != null)
                    throw new IllegalStateException("give either a lock manager or a connect string, not both");
                return new ClusterCoordinator(this);
            }
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
