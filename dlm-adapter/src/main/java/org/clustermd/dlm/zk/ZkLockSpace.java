package org.clustermd.dlm.zk;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.WatcherType;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.BlockingListener;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.zk.LockEntry.LockKey;
import org.clustermd.dlm.zk.Pending.Kind;
import org.clustermd.dlm.zk.Pending.Phase;
import org.clustermd.dlm.zk.TablePlanner.Owner;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lockspace on ZooKeeper. It keeps an exact replica of the whole lockspace (members and every
 * resource's lock table) from one persistent recursive watch, decides grants locally from that
 * replica, and writes each decision as one ZooKeeper transaction planned by
 * {@link TablePlanner}. See the package documentation for the protocol and its safety argument.
 *
 * <p>Threads: ZooKeeper's event thread applies events and write results; user threads submit
 * requests; Curator's connection-state thread reports session health. All of them change state
 * only under {@link #lock}. Completions and callbacks are handed to the {@link CallbackQueue}
 * under the lock, in the order it serialised them, and run after it is released.
 *
 * <p>Thread-safe.
 */
final class ZkLockSpace implements LockSpace {
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockSpace.class);

    private final ZkLockManager manager;
    private final ZooKeeper zk;
    private final long incarnation;
    private final String lockSpaceName;
    private final ZkLockPaths paths;
    private final LockSpaceOptions options;
    private final LockSpaceListener listener;
    private final List<ACL> acl;
    private final CallbackQueue callbacks;
    private final Watcher watcher = this::onEvent;
    private final AtomicLong nextLockId = new AtomicLong(1);
    private final WriteStats stats = new WriteStats();

    private final ReentrantLock lock = new ReentrantLock();
    // everything below is guarded by lock
    private final Map<String, ResourceState> resources = new TreeMap<>();
    private final Map<Integer, Long> members = new TreeMap<>();
    private final Set<String> departed = new HashSet<>();
    private final Set<Long> preparedDeaths = new HashSet<>();
    private final RecoveryBarrier barrier;
    private RecoveryEpisode episode;
    private int slot = -1;
    private boolean joined;
    private boolean resyncing;
    private int resyncOutstanding;
    private Map<Integer, Long> membersBeforeResync = Map.of();
    private final List<Runnable> afterResync = new ArrayList<>();
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
        this.barrier = new RecoveryBarrier(paths);
    }

    // ------------------------------------------------------------------ join and leave

    /**
     * Joins: creates the layout, starts the watch, reads everything, claims a slot. Blocking and
     * bounded by the request timeout.
     */
    void join() throws DlmException {
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        try {
            for (String p : List.of(paths.root(), paths.members(), paths.slots(), paths.departed(),
                    paths.names(), paths.recoveries(), paths.resources(), paths.versions())) {
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
            afterResync.add(synced::countDown);
            startResync();
        } finally {
            lock.unlock();
        }
        awaitLatch(synced, deadline, "reading lockspace " + lockSpaceName);
        claimSlot(deadline);
    }

    private void claimSlot(long deadline) throws DlmException {
        String nodeName = manager.nodeName();
        Integer preferred = readPreferredSlot(nodeName);
        while (true) {
            int candidate;
            List<Op> ops = new ArrayList<>();
            lock.lock();
            try {
                candidate = -1;
                if (preferred != null && preferred < options.slotCount() && !members.containsKey(preferred)) {
                    candidate = preferred;
                } else {
                    for (int s = 0; s < options.slotCount(); s++) {
                        if (!members.containsKey(s)) {
                            candidate = s;
                            break;
                        }
                    }
                }
                if (candidate < 0) {
                    throw new DlmException(DlmException.Code.SLOTS_EXHAUSTED, "all " + options.slotCount()
                            + " slots of lockspace " + lockSpaceName + " are taken by " + members.keySet());
                }
                byte[] data = nodeName.getBytes(StandardCharsets.UTF_8);
                ops.add(Op.create(paths.slotClaim(candidate), data, acl, CreateMode.EPHEMERAL));
                ops.add(Op.create(paths.member(candidate, incarnation), data, acl, CreateMode.EPHEMERAL));
                // counts joins, so that a purge decided before this join fails (RecoveryBarrier)
                ops.add(Op.setData(paths.members(), new byte[0], -1));
                String prefix = String.format("%04d_", candidate);
                for (String d : departed) {
                    if (d.startsWith(prefix)) {
                        ops.add(Op.delete(paths.departed() + "/" + d, -1));
                    }
                }
            } finally {
                lock.unlock();
            }
            byte[] slotData = Integer.toString(candidate).getBytes(StandardCharsets.UTF_8);
            ops.add(preferred == null
                    ? Op.create(paths.nodeName(nodeName), slotData, acl, CreateMode.PERSISTENT)
                    : Op.setData(paths.nodeName(nodeName), slotData, -1));
            ops.add(Op.create(paths.nodeNameMember(nodeName), slotData, acl, CreateMode.EPHEMERAL));
            Code rc = multiAndWait(ops, deadline, "claiming slot " + candidate);
            if (rc == Code.OK) {
                finishJoin(candidate);
                return;
            }
            if (rc == Code.NODEEXISTS) {
                refuseIfNameIsAMember(nodeName);
            }
            if (rc == Code.NODEEXISTS || rc == Code.NONODE) {
                // another node claimed the slot (or its name) at the same time: the failure reply
                // comes after the events of the winning transaction, so the view has moved on
                preferred = readPreferredSlot(nodeName);
                if (System.nanoTime() > deadline) {
                    throw new DlmException(DlmException.Code.TIMEOUT, "could not claim a slot in " + lockSpaceName);
                }
                continue;
            }
            throw ZkLockManager.translate("claiming slot " + candidate + " of " + lockSpaceName,
                    KeeperException.create(rc));
        }
    }

    /**
     * A node name is a node's identity: while a member holds it, a second node with that name
     * would join in another slot and both would think the other's bitmap is someone else's.
     */
    private void refuseIfNameIsAMember(String nodeName) throws DlmException {
        String path = paths.nodeNameMember(nodeName);
        try {
            byte[] d = zk.getData(path, false, null);
            String holder = new String(d, StandardCharsets.UTF_8).trim();
            throw new DlmException(DlmException.Code.NODE_NAME_IN_USE, "node name '" + nodeName
                    + "' is already a member of lockspace " + lockSpaceName + " in slot" + holder
                    + "; a second node with the same name is refused (stop the first, or give this one another name)");
        } catch (KeeperException.NoNodeException e) {
            // not the name: another node claimed the slot at the same time; the caller retries
        } catch (KeeperException e) {
            throw ZkLockManager.translate("reading " + path, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while joining");
        }
    }

    private Integer readPreferredSlot(String nodeName) throws DlmException {
        try {
            byte[] d = zk.getData(paths.nodeName(nodeName), false, null);
            return Integer.parseInt(new String(d, StandardCharsets.UTF_8).trim());
        } catch (KeeperException.NoNodeException e) {
            return null;
        } catch (NumberFormatException e) {
            throw new DlmException(DlmException.Code.CORRUPT_STATE, "znode " + paths.nodeName(nodeName)
                    + " does not hold a slot number");
        } catch (KeeperException e) {
            throw ZkLockManager.translate("reading " + paths.nodeName(nodeName), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while joining");
        }
    }

    private void finishJoin(int claimed) {
        Actions out = new Actions();
        lock.lock();
        try {
            slot = claimed;
            joined = true;
            members.put(claimed, incarnation);
            // the lease may have lapsed while joining: then the manager's resume makes us ACTIVE
            state = manager.healthy() ? LockSpaceState.ACTIVE : LockSpaceState.SUSPENDED;
            NodeSlot ours = new NodeSlot(claimed);
            Set<NodeSlot> live = memberSlots();
            // the view is the state the claim committed in: a dead member's locks still there are a
            // death being recovered, which we join (recover_prep, recover_slot, and recover_done
            // once they are purged) instead of only reporting our own join
            Set<Owner> orphans = orphanOwners();
            if (orphans.isEmpty()) {
                out.add(() -> listener.recoveryFinished(ours, live));
            }
            for (Owner dead : orphans) {
                deathDiscovered(dead, out);
            }
            LOG.info("joined lockspace {} as {} (incarnation {}), members {}", lockSpaceName, ours,
                    Long.toHexString(incarnation), live);
            for (ResourceState rs : resources.values()) {
                evaluate(rs, out);
            }
            barrierStep();
        } finally {
            lock.unlock();
        }
        out.run(callbacks);
    }

    @Override
    public void close() throws DlmException {
        long deadline = System.nanoTime() + options.requestTimeout().toNanos();
        List<CompletableFuture<Void>> releases = new ArrayList<>();
        Actions out = new Actions();
        lock.lock();
        boolean unlocked = false;
        try {
            if (state == LockSpaceState.CLOSED || state == LockSpaceState.LOST || !joined) {
                boolean changed = finishClose(out, state == LockSpaceState.LOST ? LockSpaceState.LOST
                        : LockSpaceState.CLOSED);
                lock.unlock();
                unlocked = true;
                out.run(callbacks);
                if (changed) {
                    stateChangedNow(state);
                }
                callbacks.close();
                return;
            }
            joined = false; // no new decisions; requests now fail with CLOSED
            for (ResourceState rs : resources.values()) {
                for (ZkLockResource h : rs.handles) {
                    failPending(h, DlmException.Code.CLOSED, "lockspace " + lockSpaceName + " is closing", out);
                }
                if (!rs.view.ownedBy(slot, incarnation).isEmpty()) {
                    // a force-unlock: no value block is written or invalidated
                    Plan plan = TablePlanner.plan(rs.view, rs.path, rs.versionPath,
                            new TablePlanner.Purge(Set.of(new Owner(slot, incarnation)), false), null, acl);
                    CompletableFuture<Void> done = new CompletableFuture<>();
                    releases.add(done);
                    submitRelease(rs, plan, done, deadline);
                }
            }
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
                Op.create(paths.departure(slot, incarnation), new byte[0], acl, CreateMode.PERSISTENT),
                Op.delete(paths.member(slot, incarnation), -1),
                Op.delete(paths.slotClaim(slot), -1),
                Op.delete(paths.nodeNameMember(manager.nodeName()), -1));
        Code rc = Code.SYSTEMERROR;
        try {
            rc = multiAndWait(leave, deadline, "leaving");
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
            throw new DlmException(DlmException.Code.UNAVAILABLE, "could not remove membership of "
                    + lockSpaceName + ": " + rc);
        }
        LOG.info("left lockspace {} ({})", lockSpaceName, new NodeSlot(slot));
    }

    /** Releases this node's locks on one resource while leaving, retrying a lost compare-and-set. */
    private void submitRelease(ResourceState rs, Plan plan, CompletableFuture<Void> done, long deadline) {
        if (plan.isEmpty()) {
            done.complete(null);
            return;
        }
        zk.multi(plan.ops(), (rc, path, ctx, results) -> {
            Code code = Code.get(rc);
            if (code == Code.OK) {
                done.complete(null);
                return;
            }
            if ((code == Code.BADVERSION || code == Code.NONODE || code == Code.NODEEXISTS)
                    && System.nanoTime() < deadline) {
                lock.lock();
                try {
                    submitRelease(rs, TablePlanner.plan(rs.view, rs.path, rs.versionPath,
                            new TablePlanner.Purge(Set.of(new Owner(slot, incarnation)), false), null, acl),
                            done, deadline);
                } finally {
                    lock.unlock();
                }
                return;
            }
            done.completeExceptionally(KeeperException.create(code));
        }, null);
    }

    /** Fails everything and moves to a final state; returns true if the state changed. */
    private boolean finishClose(Actions out, LockSpaceState finalState) {
        for (ResourceState rs : resources.values()) {
            for (ZkLockResource h : rs.handles) {
                failPending(h, finalState == LockSpaceState.LOST ? DlmException.Code.LOCKSPACE_LOST
                        : DlmException.Code.CLOSED, "lockspace " + lockSpaceName + " is " + finalState, out);
                // at once, not in callback order: nothing is held any more, and a user who sees
                // the final state must not see a lock
                h.publish(null, 0, h.valueBlock());
            }
        }
        joined = false;
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
            for (ResourceState rs : resources.values()) {
                rs.stale = true;
            }
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
            if (state != LockSpaceState.SUSPENDED || !joined) {
                return; // still joining: finishJoin reads the manager's health itself
            }
            afterResync.add(() -> {
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
                    // come, and its lock would stay behind (lesson 32)
                    for (ResourceState rs : resources.values()) {
                        evaluate(rs, later);
                    }
                } finally {
                    lock.unlock();
                }
                LOG.info("lockspace {}: reconnected with the same session, resuming", lockSpaceName);
                stateChangedNow(LockSpaceState.ACTIVE);
                later.run(callbacks);
            });
            if (!(resyncing && resyncOutstanding > 0)) {
                // a read already under way (the lease lapsed and came back while the connection
                // held) ends with the resume just queued
                startResync();
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
    private void deliverGrant(CompletableFuture<LockGrant> f, LockGrant grant, long decidedAt, String resource) {
        LockSpaceState s = state;
        if (s == LockSpaceState.ACTIVE && suspensions == decidedAt) {
            f.complete(grant);
            return;
        }
        DlmException.Code code = s == LockSpaceState.LOST ? DlmException.Code.LOCKSPACE_LOST
                : s == LockSpaceState.CLOSED ? DlmException.Code.CLOSED : DlmException.Code.SUSPENDED;
        f.completeExceptionally(new DlmException(code, grant.mode() + " on " + resource + " was granted, but lockspace "
                + lockSpaceName + " was suspended before the grant could be delivered: not usable; after the"
                + " lockspace is ACTIVE again, grantedMode() tells whether it is still held"));
    }

    /** What {@link #deliverGrant} needs to know about the moment of the decision; under the lock. */
    private long grantDecidedAt() {
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

    // ------------------------------------------------------------------ reading everything

    /** Reads members, departures and every resource again; decisions wait until it is done. */
    private void startResync() {
        resyncing = true;
        membersBeforeResync = new TreeMap<>(members);
        resyncOutstanding = 4;
        zk.getChildren(paths.members(), false, (rc, path, ctx, children, stat) -> {
            Actions out = new Actions();
            lock.lock();
            try {
                if (rc == Code.OK.intValue()) {
                    barrier.membersRead(stat.getVersion());
                    members.clear();
                    for (String c : children) {
                        MemberName m = MemberName.parse(c);
                        if (m != null) {
                            members.put(m.slot(), m.incarnation());
                        }
                    }
                }
                resyncStep(rc, out);
            } finally {
                lock.unlock();
            }
            out.run(callbacks);
        }, null);
        zk.getChildren(paths.departed(), false, (rc, path, ctx, children) -> {
            Actions out = new Actions();
            lock.lock();
            try {
                if (rc == Code.OK.intValue()) {
                    departed.clear();
                    departed.addAll(children);
                }
                resyncStep(rc, out);
            } finally {
                lock.unlock();
            }
            out.run(callbacks);
        }, null);
        zk.getChildren(paths.recoveries(), false, (rc, path, ctx, children) -> {
            Actions out = new Actions();
            lock.lock();
            try {
                if (rc == Code.OK.intValue()) {
                    barrier.replaceAcks(children);
                }
                resyncStep(rc, out);
            } finally {
                lock.unlock();
            }
            out.run(callbacks);
        }, null);
        zk.getChildren(paths.resources(), false, (rc, path, ctx, children) -> {
            Actions out = new Actions();
            lock.lock();
            try {
                if (rc == Code.OK.intValue()) {
                    for (String name : children) {
                        readResource(name);
                    }
                }
                resyncStep(rc, out);
            } finally {
                lock.unlock();
            }
            out.run(callbacks);
        }, null);
    }

    private void readResource(String name) {
        resyncOutstanding++;
        // one multi-read: the children and the version znode from the same state
        List<Op> reads = List.of(Op.getChildren(paths.resource(name)), Op.getData(paths.version(name)));
        zk.multi(reads, (rc, p, ctx, results) -> {
            Actions out = new Actions();
            lock.lock();
            try {
                int code = rc;
                if (rc == Code.OK.intValue() && results.size() == 2
                        && results.get(0) instanceof OpResult.GetChildrenResult children
                        && results.get(1) instanceof OpResult.GetDataResult version) {
                    ResourceState rs = resourceState(name);
                    rs.view.replace(children.getChildren(), version.getStat().getVersion());
                    rs.stale = false;
                } else if (results != null && !results.isEmpty()
                        && results.get(0) instanceof OpResult.ErrorResult err) {
                    code = err.getErr() == Code.NONODE.intValue() ? Code.OK.intValue() : err.getErr();
                } else if (rc == Code.NONODE.intValue()) {
                    code = Code.OK.intValue();
                }
                resyncStep(code, out);
            } finally {
                lock.unlock();
            }
            out.run(callbacks);
        }, null);
    }

    private void resyncStep(int rc, Actions out) {
        if (resyncOutstanding < 0) {
            return; // this resync failed already; its late replies count for nothing
        }
        if (rc != Code.OK.intValue()) {
            // the connection dropped again (a new resync follows the reconnect) or the
            // session is gone (LOST follows); either way this one is abandoned
            LOG.debug("lockspace {}: resync read failed: {}", lockSpaceName, Code.get(rc));
            resyncOutstanding = Integer.MIN_VALUE;
            return;
        }
        if (--resyncOutstanding != 0) {
            return;
        }
        resyncing = false;
        if (joined) {
            if (!members.containsKey(slot) || members.get(slot) != incarnation) {
                out.add(() -> onLost("our member znode is gone"));
            } else {
                for (Map.Entry<Integer, Long> before : membersBeforeResync.entrySet()) {
                    if (!Objects.equals(members.get(before.getKey()), before.getValue())) {
                        String name = ZkLockPaths.memberName(before.getKey(), before.getValue());
                        memberGone(before.getKey(), before.getValue(), departed.contains(name), out);
                    }
                }
                for (Map.Entry<Integer, Long> now : members.entrySet()) {
                    if (!Objects.equals(membersBeforeResync.get(now.getKey()), now.getValue())) {
                        memberJoined(now.getValue(), out);
                    }
                }
            }
            for (ResourceState rs : resources.values()) {
                for (ZkLockResource h : rs.handles) {
                    if (h.pending != null && h.pending.phase() == Phase.UNCERTAIN) {
                        reconcileUncertain(rs, h);
                    }
                }
                evaluate(rs, out);
            }
            barrierStep();
        }
        out.addAll(afterResync);
        afterResync.clear();
    }

    // ------------------------------------------------------------------ events

    private void onEvent(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None) {
            return; // session health comes from Curator's connection states
        }
        ZkLockPaths.Relative rel = paths.relativize(e.getPath());
        if (rel == null) {
            return;
        }
        Actions out = new Actions();
        lock.lock();
        try {
            switch (rel.kind()) {
                case MEMBER -> {
                    if (rel.name() != null) {
                        onMemberEvent(e.getType(), rel.name(), out);
                    } else if (e.getType() == Watcher.Event.EventType.NodeDataChanged) {
                        barrier.memberJoined();
                    }
                }
                case RECOVERY -> {
                    if (rel.name() != null) {
                        if (e.getType() == Watcher.Event.EventType.NodeCreated) {
                            barrier.ackCreated(rel.name());
                            // another member's recover_prep returned: a purge may be due
                            for (ResourceState rs : resources.values()) {
                                evaluate(rs, out);
                            }
                        } else if (e.getType() == Watcher.Event.EventType.NodeDeleted) {
                            barrier.ackDeleted(rel.name());
                        }
                    }
                }
                case DEPARTED -> {
                    if (rel.name() != null) {
                        if (e.getType() == Watcher.Event.EventType.NodeCreated) {
                            departed.add(rel.name());
                        } else if (e.getType() == Watcher.Event.EventType.NodeDeleted) {
                            departed.remove(rel.name());
                        }
                    }
                }
                case RESOURCE -> {
                    if (rel.name() != null) {
                        resourceState(rel.name());
                    }
                }
                case RESOURCE_CHILD -> {
                    ResourceState rs = resourceState(rel.name());
                    if (e.getType() == Watcher.Event.EventType.NodeCreated) {
                        rs.view.childCreated(rel.child(), e.getZxid());
                    } else if (e.getType() == Watcher.Event.EventType.NodeDeleted) {
                        rs.view.childDeleted(rel.child());
                    }
                    evaluate(rs, out);
                }
                default -> { }
            }
            if (joined) {
                maybeFinishEpisode(out);
                barrierStep();
            }
        } finally {
            lock.unlock();
        }
        out.run(callbacks);
    }

    private void onMemberEvent(Watcher.Event.EventType type, String name, Actions out) {
        MemberName m = MemberName.parse(name);
        if (m == null) {
            LOG.warn("lockspace {}: ignoring foreign member znode {}", lockSpaceName, name);
            return;
        }
        if (type == Watcher.Event.EventType.NodeCreated) {
            members.put(m.slot(), m.incarnation());
            if (joined && !resyncing && m.incarnation() != incarnation) {
                memberJoined(m.incarnation(), out);
            }
        } else if (type == Watcher.Event.EventType.NodeDeleted) {
            if (Objects.equals(members.get(m.slot()), m.incarnation())) {
                members.remove(m.slot());
            }
            if (!joined || resyncing) {
                return;
            }
            if (m.incarnation() == incarnation) {
                out.add(() -> onLost("our member znode was deleted"));
                return;
            }
            memberGone(m.slot(), m.incarnation(), departed.contains(name), out);
        }
    }

    private void memberJoined(long inc, Actions out) {
        startEpisode(out);
    }

    private void memberGone(int deadSlot, long inc, boolean graceful, Actions out) {
        LOG.info("lockspace {}: member {} (incarnation {}) {}", lockSpaceName, new NodeSlot(deadSlot),
                Long.toHexString(inc), graceful ? "left" : "died");
        RecoveryEpisode ep = startEpisode(out);
        ep.gone.add(inc);
        if (ep.prepDelivered) {
            preparedDeaths.add(inc);
        }
        if (!graceful) {
            NodeSlot lost = new NodeSlot(deadSlot);
            out.add(() -> listener.memberLost(lost));
        }
        for (ResourceState rs : resources.values()) {
            evaluate(rs, out);
        }
    }

    /**
     * A dead member's locks that no membership event of ours announced (it died before we joined,
     * or while we were disconnected): its death joins the episode like one we saw.
     */
    private void deathDiscovered(Owner dead, Actions out) {
        RecoveryEpisode ep = startEpisode(out);
        if (!ep.gone.add(dead.incarnation())) {
            return;
        }
        if (ep.prepDelivered) {
            preparedDeaths.add(dead.incarnation());
        }
        boolean graceful = departed.contains(ZkLockPaths.memberName(dead.slot(), dead.incarnation()));
        LOG.info("lockspace {}: found the locks of member {} (incarnation {}), which {}", lockSpaceName,
                new NodeSlot(dead.slot()), Long.toHexString(dead.incarnation()), graceful ? "left" : "died");
        // our own slot's previous holder is our own earlier life: its dirty bits are ours to
        // resync on assembly, as md does on join, and recover_slot would have us wait on our own
        // bitmap lock
        if (!graceful && dead.slot() != slot) {
            NodeSlot lost = new NodeSlot(dead.slot());
            out.add(() -> listener.memberLost(lost));
        }
    }

    private boolean knownDeath(long inc) {
        return preparedDeaths.contains(inc) || (episode != null && episode.gone.contains(inc));
    }

    private RecoveryEpisode startEpisode(Actions out) {
        if (episode != null) {
            return episode;
        }
        RecoveryEpisode ep = new RecoveryEpisode();
        episode = ep;
        out.add(listener::recoveryStarted);
        out.add(() -> prepDelivered(ep));
        return ep;
    }

    /** recover_prep has returned: the episode's dead members' locks may now be purged. */
    private void prepDelivered(RecoveryEpisode ep) {
        Actions out = new Actions();
        lock.lock();
        try {
            ep.prepDelivered = true;
            preparedDeaths.addAll(ep.gone);
            if (joined) {
                for (ResourceState rs : resources.values()) {
                    evaluate(rs, out);
                }
                maybeFinishEpisode(out);
                barrierStep();
            }
        } finally {
            lock.unlock();
        }
        out.run(callbacks);
    }

    private void maybeFinishEpisode(Actions out) {
        RecoveryEpisode ep = episode;
        if (ep == null || !ep.prepDelivered) {
            return;
        }
        for (ResourceState rs : resources.values()) {
            if (!rs.view.settled()) {
                return; // a purge is half applied: its grants come first
            }
            for (LockEntry e : rs.view.entries()) {
                if (ep.gone.contains(e.key().incarnation())) {
                    return; // not purged yet
                }
            }
        }
        episode = null;
        NodeSlot ours = new NodeSlot(slot);
        Set<NodeSlot> live = memberSlots();
        out.add(() -> listener.recoveryFinished(ours, live));
    }

    private Set<NodeSlot> memberSlots() {
        Set<NodeSlot> s = new TreeSet<>();
        for (int m : members.keySet()) {
            s.add(new NodeSlot(m));
        }
        return Collections.unmodifiableSet(s);
    }

    private ResourceState resourceState(String name) {
        return resources.computeIfAbsent(name, n -> new ResourceState(n, paths.resource(n), paths.version(n),
                new ResourceView(n, options.valueBlockSize(), 0)));
    }

    // ------------------------------------------------------------------ requests

    CompletableFuture<LockGrant> request(ZkLockResource h, LockMode mode, boolean noQueue) {
        Objects.requireNonNull(mode, "mode");
        Actions out = new Actions();
        CompletableFuture<LockGrant> result;
        lock.lock();
        try {
            DlmException refused = refuse(h);
            if (refused != null) {
                return CompletableFuture.failedFuture(refused);
            }
            ResourceState rs = h.resource;
            LockEntry e = rs.view.find(h.key);
            if (e != null && e.granted() == mode && !e.isPending()) {
                if (!mode.isWriteMode()) {
                    // same mode below PW: the grant only reads the value block; nothing to write
                    LockValueBlock lvb = rs.view.valueBlock();
                    h.valueBlock = lvb;
                    LockGrant grant = new LockGrant(mode, lvb, 0);
                    long token = 0;
                    out.add(() -> h.publish(mode, token, lvb));
                    CompletableFuture<LockGrant> f = new CompletableFuture<>();
                    long decidedAt = grantDecidedAt();
                    out.add(() -> deliverGrant(f, grant, decidedAt, rs.name));
                    result = f;
                    return result;
                }
                h.pending = new Pending(Kind.REPUBLISH, mode, noQueue, e.znode(), e.granted());
            } else {
                h.pending = new Pending(Kind.CONVERT, mode, noQueue, e == null ? null : e.znode(),
                        e == null ? null : e.granted());
            }
            result = h.pending.future;
            out.add(() -> h.publishRequested(mode));
            evaluate(rs, out);
        } finally {
            lock.unlock();
            out.run(callbacks);
        }
        return result;
    }

    CompletableFuture<Boolean> cancel(ZkLockResource h, DlmException.Code reason) {
        Actions out = new Actions();
        lock.lock();
        try {
            Pending p = h.pending;
            if (p == null || p.kind != Kind.CONVERT) {
                return CompletableFuture.completedFuture(false);
            }
            if (p.cancelResult == null) {
                p.cancelResult = new CompletableFuture<>();
                p.cancelReason = reason;
            }
            CompletableFuture<Boolean> r = p.cancelResult;
            if (p.phase() == Phase.TO_WRITE || p.phase() == Phase.SYNCING) {
                // never written: nothing to take back
                finishCancelled(h, p, out);
            } else {
                evaluate(h.resource, out);
            }
            return r;
        } finally {
            lock.unlock();
            out.run(callbacks);
        }
    }

    CompletableFuture<LockGrant> unlock(ZkLockResource h) {
        Actions out = new Actions();
        CompletableFuture<LockGrant> result;
        lock.lock();
        try {
            if (state == LockSpaceState.LOST || state == LockSpaceState.CLOSED) {
                return CompletableFuture.completedFuture(null);
            }
            Pending p = h.pending;
            if (p != null && p.kind == Kind.CONVERT) {
                // cancel first, then unlock whatever is held
                if (p.cancelResult == null) {
                    p.cancelResult = new CompletableFuture<>();
                    p.cancelReason = DlmException.Code.CANCELLED;
                }
                CompletableFuture<LockGrant> done = new CompletableFuture<>();
                CompletableFuture<Boolean> cancelled = p.cancelResult;
                if (p.phase() == Phase.TO_WRITE || p.phase() == Phase.SYNCING) {
                    finishCancelled(h, p, out);
                } else {
                    evaluate(h.resource, out);
                }
                cancelled.whenComplete((ok, err) -> unlock(h).whenComplete((v, e2) -> {
                    if (e2 != null) {
                        done.completeExceptionally(e2);
                    } else {
                        done.complete(null);
                    }
                }));
                return done;
            }
            if (p != null) {
                return CompletableFuture.failedFuture(new DlmException(DlmException.Code.INVALID_REQUEST,
                        "an operation is already pending on " + h.name()));
            }
            DlmException refused = refuse(h);
            if (refused != null) {
                return CompletableFuture.failedFuture(refused);
            }
            LockEntry e = h.resource.view.find(h.key);
            if (e == null) {
                return CompletableFuture.completedFuture(null);
            }
            h.pending = new Pending(Kind.UNLOCK, null, false, e.znode(), e.granted());
            result = h.pending.future;
            evaluate(h.resource, out);
        } finally {
            lock.unlock();
            out.run(callbacks);
        }
        return result;
    }

    /** Forgets a closed handle so a long-lived lockspace does not accumulate them. */
    void forget(ZkLockResource h) {
        lock.lock();
        try {
            if (h.pending == null) {
                h.resource.handles.remove(h);
            }
        } finally {
            lock.unlock();
        }
    }

    void setValueBlock(ZkLockResource h, LockValueBlock value) {
        if (value.size() != options.valueBlockSize()) {
            throw new IllegalArgumentException("LVB of " + value.size() + " bytes; lockspace " + lockSpaceName
                    + " uses " + options.valueBlockSize());
        }
        lock.lock();
        try {
            h.valueBlock = value;
        } finally {
            lock.unlock();
        }
    }

    /** Why a new operation cannot start now, or null. */
    private DlmException refuse(ZkLockResource h) {
        if (state == LockSpaceState.LOST) {
            return new DlmException(DlmException.Code.LOCKSPACE_LOST, "lockspace " + lockSpaceName + " lost its session");
        }
        if (state == LockSpaceState.CLOSED || !joined) {
            return new DlmException(DlmException.Code.CLOSED, "lockspace " + lockSpaceName + " is closed");
        }
        if (state == LockSpaceState.SUSPENDED) {
            return new DlmException(DlmException.Code.SUSPENDED, "lockspace " + lockSpaceName
                    + " is suspended (connection in doubt)");
        }
        if (h.pending != null) {
            return new DlmException(DlmException.Code.INVALID_REQUEST, "a request is already pending on "
                    + h.name() + ": " + h.pending);
        }
        String foreign = h.resource.view.foreignChild();
        if (foreign != null) {
            return corrupt(h.resource, foreign);
        }
        return null;
    }

    private DlmException corrupt(ResourceState rs, String foreign) {
        return new DlmException(DlmException.Code.CORRUPT_STATE, "resource " + rs.path
                + " holds a znode this lock manager did not write: '" + foreign + "'");
    }

    // ------------------------------------------------------------------ the engine

    /**
     * Brings one resource forward after any change: completes what the view shows done, decides
     * and submits writes, delivers blocking callbacks, purges dead members' locks and runs the
     * elected grant pass. Called with the lock held.
     */
    private void evaluate(ResourceState rs, Actions out) {
        ResourceView v = rs.view;
        if (!v.settled()) {
            return;
        }
        String foreign = v.foreignChild();
        if (foreign != null) {
            for (ZkLockResource h : rs.handles) {
                failPending(h, DlmException.Code.CORRUPT_STATE, corrupt(rs, foreign).getMessage(), out);
            }
            return;
        }
        for (ZkLockResource h : new ArrayList<>(rs.handles)) {
            drive(rs, h, out);
        }
        if (!canDecide(rs)) {
            return;
        }
        deliverBasts(rs, out);
        purgeOrphans(rs, out);
        electedGrantPass(rs, out);
    }

    private boolean canDecide(ResourceState rs) {
        return joined && state == LockSpaceState.ACTIVE && !resyncing && !rs.stale
                && rs.view.settled() && rs.view.foreignChild() == null;
    }

    private void drive(ResourceState rs, ZkLockResource h, Actions out) {
        Pending p = h.pending;
        if (p == null) {
            return;
        }
        ResourceView v = rs.view;
        LockEntry e = v.find(h.key);
        boolean written = p.phase() == Phase.WRITING || p.phase() == Phase.QUEUED;
        if (written && p.kind != Kind.UNLOCK && !p.cancelWriting && e != null && !e.isPending()
                && e.granted() == p.mode && !e.znode().equals(p.baseZnode)) {
            completeGrant(rs, h, p, e, out);
            return;
        }
        if (p.phase() != Phase.TO_WRITE && p.phase() != Phase.QUEUED) {
            return; // waiting for a write result, a sync, a token read or a resync
        }
        if (!canDecide(rs)) {
            return;
        }
        switch (p.kind) {
            case UNLOCK -> {
                if (e == null) {
                    h.pending = null;
                    out.add(() -> h.publish(null, 0, h.valueBlock()));
                    out.add(() -> p.future.complete(null));
                    return;
                }
                LockValueBlock publish = e.granted() != null && e.granted().isWriteMode() ? written(h.valueBlock) : null;
                write(rs, h, p, TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Unlock(h.key), publish, acl), out);
            }
            case REPUBLISH -> write(rs, h, p,
                    TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Republish(h.key), written(h.valueBlock),
                            acl), out);
            case CONVERT -> driveConvert(rs, h, p, e, out);
        }
    }

    private void driveConvert(ResourceState rs, ZkLockResource h, Pending p, LockEntry e, Actions out) {
        ResourceView v = rs.view;
        if (p.phase() == Phase.QUEUED) {
            if (e == null || !e.isPending()) {
                if (p.cancelReason != null && (e == null ? p.baseZnode == null : e.granted() == p.baseMode)) {
                    finishCancelled(h, p, out);
                    return;
                }
                failPending(h, DlmException.Code.CORRUPT_STATE, "queued request on " + rs.name
                        + " disappeared without being granted", out);
                return;
            }
            if (p.cancelReason == null) {
                for (LockEntry victim : GrantPolicy.evaluate(v.entries()).victims()) {
                    if (victim.key().equals(h.key)) {
                        p.cancelReason = DlmException.Code.CONVERSION_DEADLOCK;
                        LOG.info("lockspace {}: conversion {} -> {} on {} is deadlocked; cancelling it",
                                lockSpaceName, e.granted(), e.requested(), rs.name);
                    }
                }
            }
            if (p.cancelReason != null) {
                p.cancelWriting = true;
                write(rs, h, p, TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Cancel(h.key), null, acl), out);
            }
            return;
        }
        // TO_WRITE
        if (e != null && e.isPending()) {
            p.to(Phase.QUEUED); // our request is already queued (found after a reconnect)
            driveConvert(rs, h, p, e, out);
            return;
        }
        if (p.cancelReason != null) {
            finishCancelled(h, p, out);
            return;
        }
        LockValueBlock publish = e != null && LockMode.transferOnGrant(e.granted(), p.mode)
                == LockMode.ValueBlockTransfer.WRITE ? written(h.valueBlock) : null;
        Plan plan = TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Request(h.key, p.mode), publish, acl);
        if (!plan.ownGranted() && p.noQueue) {
            if (!p.synced) {
                // our view may lag: a sync brings every earlier event in before its reply
                p.to(Phase.SYNCING);
                zk.sync(rs.path, (rc, path, ctx) -> afterSync(rs, h, p), null);
                return;
            }
            failPending(h, DlmException.Code.NOT_GRANTED, p.mode + " on " + rs.name
                    + " cannot be granted at once", out);
            return;
        }
        write(rs, h, p, plan, out);
    }

    private void afterSync(ResourceState rs, ZkLockResource h, Pending p) {
        Actions out = new Actions();
        lock.lock();
        try {
            if (h.pending == p && p.phase() == Phase.SYNCING) {
                p.synced = true;
                p.to(Phase.TO_WRITE);
                if (p.cancelReason != null) {
                    finishCancelled(h, p, out);
                } else {
                    evaluate(rs, out);
                }
            }
        } finally {
            lock.unlock();
        }
        out.run(callbacks);
    }

    private void write(ResourceState rs, ZkLockResource h, Pending p, Plan plan, Actions out) {
        if (plan.isEmpty()) {
            // nothing changes (e.g. the cancel already happened): settle from the view
            if (p.cancelWriting) {
                p.cancelWriting = false;
                finishCancelled(h, p, out);
            } else if (p.kind == Kind.UNLOCK) {
                h.pending = null;
                out.add(() -> p.future.complete(null));
            }
            return;
        }
        p.to(Phase.WRITING);
        count(plan);
        zk.multi(plan.ops(), (rc, path, ctx, results) -> onWriteDone(rs, h, p, Code.get(rc)), null);
    }

    private void onWriteDone(ResourceState rs, ZkLockResource h, Pending p, Code rc) {
        Actions out = new Actions();
        lock.lock();
        try {
            if (h.pending != p) {
                return; // completed from the view already (a grant)
            }
            switch (rc) {
                case OK -> {
                    if (p.cancelWriting) {
                        p.cancelWriting = false;
                        finishCancelled(h, p, out);
                    } else if (p.kind == Kind.UNLOCK) {
                        h.pending = null;
                        out.add(() -> h.publish(null, 0, h.valueBlock()));
                        out.add(() -> p.future.complete(null));
                    } else {
                        p.to(Phase.QUEUED);
                    }
                }
                case BADVERSION, NONODE, NODEEXISTS, NOTEMPTY -> {
                    // lost a race: the reply follows the winner's events, so the view is current
                    stats.conflicts.increment();
                    LOG.trace("{} write for {} lost: {}", lockSpaceName, p, rc);
                    if (p.cancelWriting) {
                        p.cancelWriting = false;
                        p.to(Phase.QUEUED);
                    } else {
                        p.to(Phase.TO_WRITE);
                    }
                }
                case CONNECTIONLOSS, OPERATIONTIMEOUT -> p.to(Phase.UNCERTAIN);
                case SESSIONEXPIRED, SESSIONMOVED -> out.add(() -> onLost("session expired"));
                case NOAUTH -> failPending(h, DlmException.Code.NO_AUTH, "ZooKeeper refused the write to "
                        + rs.path + ": wrong or missing credentials", out);
                default -> failPending(h, DlmException.Code.UNAVAILABLE, "ZooKeeper failed the write to "
                        + rs.path + ": " + rc, out);
            }
            evaluate(rs, out);
        } finally {
            lock.unlock();
        }
        out.run(callbacks);
    }

    /** After a resync, decides whether a write whose reply was lost took effect. */
    private void reconcileUncertain(ResourceState rs, ZkLockResource h) {
        Pending p = h.pending;
        LockEntry e = rs.view.find(h.key);
        if (p.cancelWriting) {
            p.cancelWriting = false;
            p.to(Phase.QUEUED); // QUEUED logic sees whether the cancel happened
            return;
        }
        boolean changed = e == null ? p.baseZnode != null : !e.znode().equals(p.baseZnode);
        if (p.kind == Kind.UNLOCK) {
            p.to(Phase.TO_WRITE); // TO_WRITE completes at once if the lock is gone
        } else {
            p.to(changed ? Phase.QUEUED : Phase.TO_WRITE);
        }
    }

    private void completeGrant(ResourceState rs, ZkLockResource h, Pending p, LockEntry e, Actions out) {
        LockMode.ValueBlockTransfer transfer = p.kind == Kind.REPUBLISH
                ? LockMode.ValueBlockTransfer.WRITE : LockMode.transferOnGrant(p.baseMode, p.mode);
        LockValueBlock lvb = transfer == LockMode.ValueBlockTransfer.READ ? rs.view.valueBlock() : written(h.valueBlock);
        long token = 0;
        if (p.mode.isWriteMode()) {
            token = rs.view.createdZxid(e.znode());
            if (token == 0) {
                // granted while we were disconnected: read the grant's zxid
                p.to(Phase.TOKEN_READ);
                zk.exists(rs.path + "/" + e.znode(), false, (rc, path, ctx, stat) -> {
                    Actions later = new Actions();
                    lock.lock();
                    try {
                        if (h.pending == p) {
                            if (stat != null) {
                                finishGrant(h, p, lvb, stat.getCzxid(), later);
                            } else {
                                p.to(Phase.QUEUED);
                                evaluate(rs, later);
                            }
                        }
                    } finally {
                        lock.unlock();
                    }
                    later.run(callbacks);
                }, null);
                return;
            }
        }
        finishGrant(h, p, lvb, token, out);
    }

    /**
     * The value a PW/EX holder writes: its LVB, valid. The Linux DLM copies the lock's LVB into the
     * resource and clears VALNOTVALID on every such down-conversion or unlock, whether or not the
     * holder changed it; a holder that never called setValueBlock republishes the bytes it read.
     */
    private static LockValueBlock written(LockValueBlock lvb) {
        return lvb.isValid() ? lvb : LockValueBlock.of(lvb.asReadOnlyBuffer());
    }

    private void finishGrant(ZkLockResource h, Pending p, LockValueBlock lvb, long token, Actions out) {
        h.pending = null;
        h.valueBlock = lvb;
        LockGrant grant = new LockGrant(p.mode, lvb, token);
        out.add(() -> h.publish(p.mode, token, lvb));
        long decidedAt = grantDecidedAt();
        out.add(() -> deliverGrant(p.future, grant, decidedAt, h.name()));
        if (p.cancelResult != null) {
            out.add(() -> p.cancelResult.complete(false));
        }
    }

    private void finishCancelled(ZkLockResource h, Pending p, Actions out) {
        h.pending = null;
        DlmException.Code reason = p.cancelReason == null ? DlmException.Code.CANCELLED : p.cancelReason;
        String what = reason == DlmException.Code.CONVERSION_DEADLOCK
                ? "conversion " + p.baseMode + " -> " + p.mode + " on " + h.name()
                        + " would deadlock with another conversion; cancelled, " + p.baseMode + " still held"
                : "request for " + p.mode + " on " + h.name() + " was cancelled";
        DlmException ex = new DlmException(reason == DlmException.Code.TIMEOUT ? DlmException.Code.CANCELLED
                : reason, what);
        LockMode held = p.baseMode;
        out.add(() -> h.publish(held, held != null && held.isWriteMode() ? h.fencingToken() : 0, h.valueBlock()));
        out.add(() -> p.future.completeExceptionally(ex));
        if (p.cancelResult != null) {
            out.add(() -> p.cancelResult.complete(true));
        }
    }

    private void failPending(ZkLockResource h, DlmException.Code code, String why, Actions out) {
        Pending p = h.pending;
        if (p == null) {
            return;
        }
        h.pending = null;
        DlmException ex = new DlmException(code, why);
        out.add(() -> h.publishRequested(null));
        out.add(() -> p.future.completeExceptionally(ex));
        if (p.cancelResult != null) {
            out.add(() -> p.cancelResult.complete(true));
        }
    }

    private void deliverBasts(ResourceState rs, Actions out) {
        Set<String> pendingNow = null;
        for (ZkLockResource h : rs.handles) {
            if (h.blockingListener == null) {
                continue;
            }
            LockEntry mine = rs.view.find(h.key);
            if (mine == null || mine.granted() == null) {
                h.basted.clear();
                continue;
            }
            if (pendingNow == null) {
                pendingNow = new HashSet<>();
                for (LockEntry x : rs.view.entries()) {
                    if (x.isPending()) {
                        pendingNow.add(x.znode());
                    }
                }
            }
            h.basted.retainAll(pendingNow);
            for (LockEntry x : rs.view.entries()) {
                if (x.isPending() && !x.key().equals(h.key) && !x.requested().isCompatibleWith(mine.granted())
                        && h.basted.add(x.znode())) {
                    LockMode requested = x.requested();
                    BlockingListener bl = h.blockingListener;
                    out.add(() -> bl.onBlocking(h, requested));
                }
            }
        }
    }

    /**
     * Purges locks of members that are gone, once recover_prep has returned for them here and on
     * every live member ({@link RecoveryBarrier}).
     */
    private void purgeOrphans(ResourceState rs, Actions out) {
        if (rs.systemWriteInFlight) {
            return;
        }
        Set<Owner> orphans = new HashSet<>();
        for (LockEntry e : rs.view.entries()) {
            long inc = e.key().incarnation();
            boolean live = Objects.equals(members.get(e.key().slot()), inc);
            if (live) {
                continue;
            }
            Owner owner = new Owner(e.key().slot(), inc);
            if (!knownDeath(inc)) {
                deathDiscovered(owner, out);
            } else if (preparedDeaths.contains(inc) && barrier.everyMemberPrepared(owner, members)) {
                orphans.add(owner);
            }
        }
        if (orphans.isEmpty()) {
            return;
        }
        Plan plan = barrier.guarded(TablePlanner.plan(rs.view, rs.path, rs.versionPath,
                new TablePlanner.Purge(orphans, true), null, acl));
        if (!plan.isEmpty()) {
            stats.purges.increment();
        }
        systemWrite(rs, plan);
    }

    /** Owners of locks in the view that are not live members. */
    private Set<Owner> orphanOwners() {
        Set<Owner> out = new HashSet<>();
        for (ResourceState rs : resources.values()) {
            for (LockEntry e : rs.view.entries()) {
                if (!Objects.equals(members.get(e.key().slot()), e.key().incarnation())) {
                    out.add(new Owner(e.key().slot(), e.key().incarnation()));
                }
            }
        }
        return out;
    }

    /**
     * This node's part of the recovery barrier: marks the deaths whose recover_prep has returned
     * here, and, in the lowest live slot, removes the marks of deaths that are over. Marks say
     * only that recover_prep returned, so they are written whatever the session state.
     */
    private void barrierStep() {
        if (!joined || resyncing) {
            return;
        }
        Set<Owner> orphans = orphanOwners();
        Owner self = new Owner(slot, incarnation);
        for (Owner dead : barrier.acksToWrite(orphans, preparedDeaths, self)) {
            stats.plain.increment();
            zk.create(barrier.ackPath(dead, self), new byte[0], acl, CreateMode.PERSISTENT, (rc, path, ctx, name) -> {
                lock.lock();
                try {
                    barrier.ackWritten(dead);
                    Code code = Code.get(rc);
                    if (code != Code.OK && code != Code.NODEEXISTS && code != Code.CONNECTIONLOSS
                            && code != Code.SESSIONEXPIRED) {
                        LOG.warn("lockspace {}: writing recovery mark {} failed: {}", lockSpaceName, path, code);
                    }
                } finally {
                    lock.unlock();
                }
            }, null);
        }
        if (members.isEmpty() || members.keySet().iterator().next() != slot) {
            return;
        }
        for (ResourceState rs : resources.values()) {
            if (rs.stale || !rs.view.settled()) {
                return;
            }
        }
        List<Op> ops = barrier.cleanup(orphans, members);
        if (ops.isEmpty()) {
            return;
        }
        stats.plain.increment();
        zk.multi(ops, (rc, path, ctx, results) -> {
            lock.lock();
            try {
                // on failure (a mark went meanwhile) the next event tries again
                barrier.cleaned();
            } finally {
                lock.unlock();
            }
        }, null);
    }

    /**
     * If some waiting request is grantable and the first such one (in queue order) is ours, we
     * write the grant pass for everyone. Releasers normally grant in their own transaction; this
     * covers releases decided on a view that did not yet show the waiter.
     */
    private void electedGrantPass(ResourceState rs, Actions out) {
        if (rs.systemWriteInFlight) {
            return;
        }
        for (ZkLockResource h : rs.handles) {
            if (h.pending != null && h.pending.phase() != Phase.QUEUED) {
                return; // our own write will carry the grant pass
            }
        }
        GrantPolicy.Decision d = GrantPolicy.evaluate(rs.view.entries());
        if (d.grants().isEmpty()) {
            return;
        }
        LockEntry first = null;
        for (LockEntry e : rs.view.entries()) {
            if (d.grants().containsKey(e.key()) && (first == null || LockEntry.QUEUE_ORDER.compare(e, first) < 0)) {
                first = e;
            }
        }
        if (first.key().slot() != slot || first.key().incarnation() != incarnation) {
            return;
        }
        Plan plan = TablePlanner.plan(rs.view, rs.path, rs.versionPath, new TablePlanner.GrantPending(), null, acl);
        if (!plan.isEmpty()) {
            stats.electedPasses.increment();
        }
        systemWrite(rs, plan);
    }

    private void systemWrite(ResourceState rs, Plan plan) {
        if (plan.isEmpty()) {
            return;
        }
        rs.systemWriteInFlight = true;
        count(plan);
        zk.multi(plan.ops(), (rc, path, ctx, results) -> {
            Actions out = new Actions();
            lock.lock();
            try {
                rs.systemWriteInFlight = false;
                Code code = Code.get(rc);
                if (code == Code.BADVERSION || code == Code.NONODE || code == Code.NODEEXISTS) {
                    stats.conflicts.increment();
                    LOG.trace("{} system write lost: {}", lockSpaceName, code);
                }
                if (code == Code.SESSIONEXPIRED) {
                    out.add(() -> onLost("session expired"));
                } else if (code != Code.OK && code != Code.BADVERSION && code != Code.NONODE
                        && code != Code.NODEEXISTS && code != Code.CONNECTIONLOSS) {
                    LOG.warn("lockspace {}: write to {} failed: {}", lockSpaceName, rs.path, code);
                }
                evaluate(rs, out);
                maybeFinishEpisode(out);
            } finally {
                lock.unlock();
            }
            out.run(callbacks);
        }, null);
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
            return new NodeSlot(slot);
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
            return memberSlots();
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
                throw new DlmException(state == LockSpaceState.LOST ? DlmException.Code.LOCKSPACE_LOST
                        : DlmException.Code.CLOSED, "lockspace " + lockSpaceName + " is " + state);
            }
            known = resources.containsKey(name);
        } finally {
            lock.unlock();
        }
        if (!known) {
            createResource(name);
        }
        lock.lock();
        try {
            ResourceState rs = resourceState(name);
            LockKey key = new LockKey(slot, incarnation, nextLockId.getAndIncrement());
            ZkLockResource h = new ZkLockResource(this, rs, key, blockingListener,
                    LockValueBlock.zeros(options.valueBlockSize()));
            rs.handles.add(h);
            return h;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Creates the resource and its version znode in one transaction (version first, so anyone who
     * sees the resource can use version 0), waiting until the creation event has been applied.
     */
    private void createResource(String name) throws DlmException {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Code> result = new AtomicReference<>();
        List<Op> ops = List.of(Op.create(paths.version(name), new byte[0], acl, CreateMode.PERSISTENT),
                Op.create(paths.resource(name), new byte[0], acl, CreateMode.PERSISTENT));
        // async, so the reply is handled on the event thread after the creation's own event
        zk.multi(ops, (rc, path, ctx, results) -> {
            result.set(Code.get(rc));
            done.countDown();
        }, null);
        awaitLatch(done, System.nanoTime() + options.requestTimeout().toNanos(), "creating resource " + name);
        Code rc = result.get();
        if (rc != Code.OK && rc != Code.NODEEXISTS) {
            throw ZkLockManager.translate("creating resource " + paths.resource(name), KeeperException.create(rc));
        }
    }

    private void count(Plan plan) {
        (plan.cas() ? stats.cas : stats.plain).increment();
        if (LOG.isTraceEnabled()) {
            LOG.trace("{} write {} grants={} own={} ops={}", lockSpaceName, plan.cas() ? "cas" : "plain",
                    plan.grants(), plan.own(), plan.ops().stream().map(o -> o.getType() + ":" + o.getPath()
                            .substring(o.getPath().lastIndexOf('/') + 1)).toList());
        }
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

    private Code multiAndWait(List<Op> ops, long deadline, String what) throws DlmException {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Code> result = new AtomicReference<>();
        zk.multi(ops, (rc, path, ctx, results) -> {
            result.set(Code.get(rc));
            done.countDown();
        }, null);
        awaitLatch(done, deadline, what);
        Code rc = result.get();
        if (rc == Code.NOAUTH) {
            throw new DlmException(DlmException.Code.NO_AUTH, what + ": ZooKeeper refused access (credentials)");
        }
        return rc;
    }

    private void awaitLatch(CountDownLatch latch, long deadline, String what) throws DlmException {
        try {
            if (!latch.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw new DlmException(DlmException.Code.TIMEOUT, what + " took longer than "
                        + options.requestTimeout().toMillis() + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while " + what);
        }
    }

    @Override
    public String toString() {
        return "lockspace " + lockSpaceName + " (" + (slot < 0 ? "joining" : "slot" + slot) + ", " + state + ")";
    }

    /** A snapshot for tests and tools: resource name to the lock table as this node sees it. */
    Map<String, List<LockEntry>> tables() {
        lock.lock();
        try {
            Map<String, List<LockEntry>> m = new LinkedHashMap<>();
            for (ResourceState rs : resources.values()) {
                m.put(rs.name, new ArrayList<>(rs.view.entries()));
            }
            return m;
        } finally {
            lock.unlock();
        }
    }

    /** One recovery episode: from the first membership change to recover_done. */
    private static final class RecoveryEpisode {
        final Set<Long> gone = new HashSet<>();
        boolean prepDelivered;
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

    /** A member znode's name: slot and incarnation. */
    record MemberName(int slot, long incarnation) {
        // package-private for LockSpaceDump
        static MemberName parse(String name) {
            int u = name.indexOf('_');
            if (u != 4 || name.length() != 21) {
                return null;
            }
            try {
                return new MemberName(Integer.parseInt(name.substring(0, 4)),
                        Long.parseUnsignedLong(name.substring(5), 16));
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
