package org.clustermd.dlm.zk;

import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Consumer;
import java.util.function.Function;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.WatcherType;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.BlockingListener;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lockspace on ZooKeeper. It keeps an exact replica of the whole lockspace (members and every
 * resource's lock table) from one persistent recursive watch, decides grants locally from that
 * replica, and writes each decision as one ZooKeeper transaction planned by
 * {@link TablePlanner}. See the package documentation for the protocol and its safety argument.
 *
 * <p>This class is the public API, joining and leaving and session health. Membership and
 * recovery episodes are {@link Members}'; the resources and this node's handles on them are
 * {@link Resources}'; the requests on them and the decisions are {@link ResourceEngine}'s; the
 * full re-read and the watch's dispatch are {@link ReplicaFeed}'s, the re-read's bookkeeping
 * {@link Replica}'s;
 * znode names are {@link ZkLockPaths}'. All of them share this lockspace's one {@link #lock}: a
 * grant decision reads membership, session health and the lock table as one state.
 *
 * <p>Threads: ZooKeeper's event thread applies events and write results; user threads submit
 * requests; Curator's connection-state thread reports session health. All of them change state
 * only under {@link #lock}, through {@link #underLock} where they produce completions or
 * callbacks: those are handed to the {@link CallbackQueue} under the lock, in the order it
 * serialised them, and run after it is released. This node's place in the lockspace (joining,
 * member, leaving, gone) is one {@link LockSpaceStage}, changed only by {@link #transition}; the session's
 * health is the {@link LockSpaceState} that {@link #state()} reports.
 *
 * <p>Thread-safe.
 */
final class ZkLockSpace implements LockSpace {
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockSpace.class);

    // what Members, Resources, ResourceEngine and ReplicaFeed share, set before they are built
    final ZkLockManager manager;
    final ZooKeeper zk;
    private final long incarnation;
    final String lockSpaceName;
    final ZkLockPaths paths;
    final LockSpaceOptions options;
    final LockSpaceListener listener;
    final List<ACL> acl;
    private final CallbackQueue callbacks;
    private final Watcher watcher;
    private final WriteStats stats = new WriteStats();

    /** The one lock of this lockspace: {@link Members}, {@link Resources}, {@link ResourceEngine} and {@link ReplicaFeed} are guarded by it too. */
    final ReentrantLock lock = new ReentrantLock();
    // everything below is guarded by lock
    final Members members;
    final Resources resources;
    final ResourceEngine engine;
    final BlockingWrites waits;
    final ReplicaFeed feed;
    private LockSpaceStage stage = LockSpaceStage.JOINING;
    final Replica replica = new Replica();
    private volatile LockSpaceState state = LockSpaceState.SUSPENDED;
    /** Counts the moves from ACTIVE to SUSPENDED: a grant decided before one is not delivered after it. */
    private volatile long suspensions;

    private final Object leaseMonitor = new Object();

    ZkLockSpace(ZkLockManager manager, ZooKeeper zk, String name, LockSpaceOptions options) {
        this.manager = manager;
        this.zk = zk;
        this.incarnation = zk.getSessionId();
        this.lockSpaceName = name;
        this.paths = new ZkLockPaths(manager.root(), manager.cluster(), name);
        this.options = options;
        this.listener = options.listener();
        this.acl = manager.acl();
        this.callbacks = new CallbackQueue(name);
        this.waits = new BlockingWrites(zk, options.requestTimeout());
        this.members = new Members(this);
        this.resources = new Resources(this);
        this.engine = new ResourceEngine(this);
        this.feed = new ReplicaFeed(this);
        this.watcher = feed::onEvent;
    }

    // ------------------------------------------------------------------ join and leave

    /**
     * Joins: creates the layout, starts the watch, reads everything, claims a slot. Blocking and
     * bounded by the request timeout.
     */
    void join() throws DlmException {
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        try {
            for (String p : List.of(
                    paths.root(),
                    paths.members(),
                    paths.slots(),
                    paths.departed(),
                    paths.names(),
                    paths.recoveries(),
                    paths.resources(),
                    paths.versions())) {
                manager.ensurePath(p);
            }
            zk.addWatch(paths.root(), watcher, AddWatchMode.PERSISTENT_RECURSIVE);
        } catch (KeeperException e) {
            throw ZkLockManager.translate("joining lockspace " + lockSpaceName, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while joining " + lockSpaceName);
        }
        CountDownLatch synced = new CountDownLatch(1);
        lock.lock();
        try {
            replica.afterRead(synced::countDown);
            feed.startResync();
        } finally {
            lock.unlock();
        }
        waits.awaitLatch(synced, deadline, "reading lockspace " + lockSpaceName);
        finishJoin(members.claimSlot(deadline));
    }

    private void finishJoin(int claimed) {
        underLock(out -> {
            members.claimed(claimed);
            // from GONE too, as before: a session lost between the claim's reply and here is not
            // noticed yet (a known gap: the join should fail with LOCKSPACE_LOST instead)
            transition(EnumSet.of(LockSpaceStage.JOINING, LockSpaceStage.GONE), LockSpaceStage.MEMBER);
            members.addSelf();
            // the lease may have lapsed while joining: then the manager's resume makes us ACTIVE
            state = manager.healthy() ? LockSpaceState.ACTIVE : LockSpaceState.SUSPENDED;
            members.afterJoin(claimed, out);
        });
    }

    @Override
    public void close() throws DlmException {
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        List<CompletableFuture<Void>> releases = new ArrayList<>();
        Actions out = new Actions();
        lock.lock();
        boolean unlocked = false;
        try {
            if (state == LockSpaceState.CLOSED || state == LockSpaceState.LOST || !member()) {
                boolean changed =
                        finishClose(out, state == LockSpaceState.LOST ? LockSpaceState.LOST : LockSpaceState.CLOSED);
                lock.unlock();
                unlocked = true;
                out.run(callbacks);
                if (changed) {
                    stateChangedNow(state);
                }
                callbacks.close();
                return;
            }
            transition(
                    EnumSet.of(LockSpaceStage.MEMBER),
                    LockSpaceStage.LEAVING); // no new decisions; requests now fail with CLOSED
            resources.releaseAll(deadline, releases, out);
        } finally {
            if (!unlocked) {
                lock.unlock();
            }
        }
        out.run(callbacks);
        for (CompletableFuture<Void> f : releases) {
            try {
                f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (Exception e) {
                LOG.warn("releasing locks while leaving {} failed: {}", lockSpaceName, e.toString());
            }
        }
        List<Op> leave = List.of(
                Op.create(paths.departure(members.slot(), incarnation), new byte[0], acl, CreateMode.PERSISTENT),
                Op.delete(paths.member(members.slot(), incarnation), -1),
                Op.delete(paths.slotClaim(members.slot()), -1),
                Op.delete(paths.nodeNameMember(manager.nodeName()), -1));
        Code rc = Code.SYSTEMERROR;
        try {
            rc = waits.multiAndWait(leave, deadline, "leaving");
        } catch (DlmException e) {
            LOG.warn("leaving {} failed: {}", lockSpaceName, e.getMessage());
        }
        try {
            zk.removeWatches(paths.root(), watcher, WatcherType.Any, true);
        } catch (KeeperException | InterruptedException | RuntimeException e) {
            LOG.debug("removing the watch of {}: {}", lockSpaceName, e.toString());
        }
        Actions last = new Actions();
        boolean changed;
        lock.lock();
        try {
            changed = finishClose(last, LockSpaceState.CLOSED);
        } finally {
            lock.unlock();
        }
        last.run(callbacks);
        if (changed) {
            stateChangedNow(LockSpaceState.CLOSED);
        }
        callbacks.close();
        manager.forget(this);
        if (rc != Code.OK) {
            throw new DlmException(
                    DlmException.Code.UNAVAILABLE, "could not remove membership of " + lockSpaceName + ": " + rc);
        }
        LOG.info("left lockspace {} ({})", lockSpaceName, new NodeSlot(members.slot()));
    }

    /** Fails everything and moves to a final state; returns true if the state changed. */
    private boolean finishClose(Actions out, LockSpaceState finalState) {
        resources.failAll(finalState, out);
        transition(EnumSet.allOf(LockSpaceStage.class), LockSpaceStage.GONE);
        if (state == finalState) {
            return false;
        }
        state = finalState;
        manager.forget(this);
        return true;
    }

    // ------------------------------------------------------------------ session health

    /** The connection is in doubt or the lease is ending: fence now. */
    void onSuspended() {
        lock.lock();
        try {
            if (state != LockSpaceState.ACTIVE) {
                return;
            }
            suspensions++;
            state = LockSpaceState.SUSPENDED;
            resources.markStale();
        } finally {
            lock.unlock();
        }
        LOG.warn("lockspace {}: connection suspended, fencing", lockSpaceName);
        stateChangedNow(LockSpaceState.SUSPENDED);
    }

    /**
     * Connected with a valid lease again (the manager calls it only then); {@code sessionId}
     * tells whether it is still our session.
     */
    void onReconnected(long sessionId) {
        if (sessionId != incarnation) {
            onLost("reconnected with a new session " + Long.toHexString(sessionId));
            return;
        }
        lock.lock();
        try {
            if (state != LockSpaceState.SUSPENDED || !member()) {
                return; // still joining: finishJoin reads the manager's health itself
            }
            replica.afterRead(() -> {
                Actions later = new Actions();
                lock.lock();
                try {
                    if (state != LockSpaceState.SUSPENDED || !manager.healthy()) {
                        // suspended again meanwhile: the next resume reads again
                        return;
                    }
                    state = LockSpaceState.ACTIVE;
                    // the resync evaluated every resource while still SUSPENDED, when nothing may be
                    // decided or written: an unlock whose reply the cut lost (now TO_WRITE again) or a
                    // request queued meanwhile would wait for an event on its resource that may never
                    // come, and its lock would stay behind (docs/lessons.md §32)
                    engine.evaluateAll(later);
                } finally {
                    lock.unlock();
                }
                LOG.info("lockspace {}: reconnected with the same session, resuming", lockSpaceName);
                stateChangedNow(LockSpaceState.ACTIVE);
                later.run(callbacks);
            });
            if (!replica.reading()) {
                // a read already under way (the lease lapsed and came back while the connection
                // held) ends with the resume just queued
                feed.startResync();
            }
        } finally {
            lock.unlock();
        }
    }

    /** The session is gone: every lock is lost. */
    void onLost(String why) {
        Actions out = new Actions();
        lock.lock();
        try {
            if (state == LockSpaceState.LOST || state == LockSpaceState.CLOSED) {
                return;
            }
            LOG.warn("lockspace {}: session lost ({}); every lock is gone", lockSpaceName, why);
            finishClose(out, LockSpaceState.LOST);
        } finally {
            lock.unlock();
        }
        stateChangedNow(LockSpaceState.LOST);
        out.run(callbacks);
        callbacks.close();
    }

    /** The lease moved: wake {@link #awaitLease} waiters. */
    void leaseChanged() {
        synchronized (leaseMonitor) {
            leaseMonitor.notifyAll();
        }
    }

    /**
     * Delivers a grant decided at suspension count {@code decidedAt} (-1: decided while not
     * ACTIVE), or fails it when the lockspace was suspended since: a holder's belief ends at
     * SUSPENDED, so a grant that reaches its caller after SUSPENDED was reported must not read
     * as usable. The lock itself may well be held (the handle's grantedMode() says so, and it is
     * still held if the same session resumes); only this completion is refused.
     */
    void deliverGrant(CompletableFuture<LockGrant> f, LockGrant grant, long decidedAt, String resource) {
        LockSpaceState s = state;
        if (s == LockSpaceState.ACTIVE && suspensions == decidedAt) {
            f.complete(grant);
            return;
        }
        DlmException.Code code = s == LockSpaceState.LOST
                ? DlmException.Code.LOCKSPACE_LOST
                : s == LockSpaceState.CLOSED ? DlmException.Code.CLOSED : DlmException.Code.SUSPENDED;
        f.completeExceptionally(new DlmException(
                code,
                grant.mode() + " on " + resource + " was granted, but lockspace "
                        + lockSpaceName + " was suspended before the grant could be delivered: not usable; after the"
                        + " lockspace is ACTIVE again, grantedMode() tells whether it is still held"));
    }

    /** What {@link #deliverGrant} needs to know about the moment of the decision; under the lock. */
    long grantDecidedAt() {
        return state == LockSpaceState.ACTIVE ? suspensions : -1;
    }

    private void stateChangedNow(LockSpaceState s) {
        synchronized (leaseMonitor) {
            leaseMonitor.notifyAll();
        }
        try {
            listener.stateChanged(s);
        } catch (RuntimeException e) {
            LOG.error("lockspace listener threw on {}", s, e);
        }
    }

    // ------------------------------------------------------------------ LockSpace

    @Override
    public String name() {
        return lockSpaceName;
    }

    @Override
    public NodeSlot slot() {
        lock.lock();
        try {
            return new NodeSlot(members.slot());
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int slotCount() {
        return options.slotCount();
    }

    @Override
    public Set<NodeSlot> members() {
        lock.lock();
        try {
            return members.memberSlots();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public MemberId self() {
        return new MemberId(slot(), incarnation);
    }

    @Override
    public Optional<MemberId> memberIn(NodeSlot s) {
        lock.lock();
        try {
            return members.memberIn(s);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public LockSpaceState state() {
        return state;
    }

    /** The session's lease (package doc, "The lease"); past once the lockspace is LOST or CLOSED. */
    @Override
    public long leaseDeadlineNanos() {
        LockSpaceState s = state;
        if (s == LockSpaceState.LOST || s == LockSpaceState.CLOSED) {
            return System.nanoTime() - 1;
        }
        return manager.leaseDeadline(incarnation);
    }

    @Override
    public boolean awaitLease(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (leaseMonitor) {
            while (true) {
                LockSpaceState s = state;
                if (s == LockSpaceState.LOST || s == LockSpaceState.CLOSED) return false;
                if (leaseValid()) return true;
                long left = deadline - System.nanoTime();
                if (left <= 0) return false;
                TimeUnit.NANOSECONDS.timedWait(leaseMonitor, left);
            }
        }
    }

    @Override
    public LockResource resource(String name) throws DlmException {
        return resource(name, null);
    }

    @Override
    public LockResource resource(String name, BlockingListener blockingListener) throws DlmException {
        ZkLockPaths.checkResourceName(name);
        boolean known;
        lock.lock();
        try {
            if (state == LockSpaceState.LOST || state == LockSpaceState.CLOSED) {
                throw new DlmException(
                        state == LockSpaceState.LOST ? DlmException.Code.LOCKSPACE_LOST : DlmException.Code.CLOSED,
                        "lockspace " + lockSpaceName + " is " + state);
            }
            known = resources.known(name);
        } finally {
            lock.unlock();
        }
        if (!known) {
            resources.createResource(name);
        }
        lock.lock();
        try {
            return resources.newHandle(name, blockingListener);
        } finally {
            lock.unlock();
        }
    }

    @Override
    public List<LockGrant> convertJointly(List<Conversion> conversions, Duration timeout) throws DlmException {
        return JointRequest.await(conversions, JointRequest.start(this, conversions), timeout);
    }

    /** This lockspace's write counters. */
    WriteStats writeStats() {
        return stats;
    }

    Duration requestTimeout() {
        return options.requestTimeout();
    }

    long incarnation() {
        return incarnation;
    }

    @Override
    public String toString() {
        int slot = members.slot();
        return "lockspace " + lockSpaceName + " (" + (slot < 0 ? "joining" : "slot" + slot) + ", " + state + ")";
    }

    /** A snapshot for tests and tools: resource name to the lock table as this node sees it. */
    Map<String, List<LockEntry>> tables() {
        return resources.tables();
    }

    /** Whether this node is a member (joined, not leaving); under the lock. */
    boolean member() {
        return stage == LockSpaceStage.MEMBER;
    }

    /** The one way {@link #stage} changes: under the lock, and only from one of {@code from}. */
    private void transition(Set<LockSpaceStage> from, LockSpaceStage to) {
        if (!lock.isHeldByCurrentThread()) {
            throw new IllegalStateException("lockspace " + lockSpaceName + " stage changed without the lock");
        }
        if (!from.contains(stage)) {
            throw new IllegalStateException(
                    "lockspace " + lockSpaceName + " " + stage + ", expected one of " + from + " -> " + to);
        }
        stage = to;
    }

    /**
     * Runs {@code body} under {@link #lock}, then drains the callback queue once the lock is
     * released: whatever {@code body} hands to its {@link Actions} is enqueued in the order the
     * lock serialised it and runs after the unlock, never under the lock (the one shape of every
     * state change here; see {@link CallbackQueue}).
     */
    void underLock(Consumer<Actions> body) {
        underLockGet(out -> {
            body.accept(out);
            return null;
        });
    }

    /** As {@link #underLock}, returning what {@code body} returns. */
    <T> T underLockGet(Function<Actions, T> body) {
        Actions out = new Actions();
        lock.lock();
        try {
            return body.apply(out);
        } finally {
            lock.unlock();
            out.run(callbacks);
        }
    }

    /**
     * Completions and callbacks produced under the lock. Each is handed to the callback queue
     * at once, still under the lock, so the queue holds them in the order the lock serialised
     * them; {@link #run} (after unlocking) only drains the queue.
     */
    final class Actions {
        void add(Runnable r) {
            callbacks.enqueue(r);
        }

        void addAll(List<Runnable> rs) {
            rs.forEach(callbacks::enqueue);
        }

        void run(CallbackQueue q) {
            q.drain();
        }
    }
}
