package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.BlockingListener;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.LockEntry.LockKey;
import org.clustermd.dlm.zk.TablePlanner.Owner;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.clustermd.dlm.zk.ZkLockSpace.Actions;

/**
 * Every resource this lockspace knows, by name: its replica of the resource's lock table
 * ({@link ResourceState}, kept by the watch and by the full re-read), this node's handles on it,
 * the creation of a resource a caller names first, and the release of this node's locks when it
 * leaves. What to decide and write after a change is {@link ResourceEngine}'s; this class hands
 * it every changed resource.
 *
 * <p>Threads: ZooKeeper's event thread applies lock-table events and re-read answers; user
 * threads create resources and handles; the closing caller releases. The map and every
 * resource's state are guarded by the owning {@link ZkLockSpace}'s lock (the same object, handed
 * in): the engine decides from them under that lock, so a view never changes mid-decision.
 * Creating a resource waits for ZooKeeper outside the lock.
 */
final class Resources {
    private final ZkLockSpace space;
    private final ReentrantLock lock;
    private final ZooKeeper zk;
    private final ZkLockPaths paths;
    private final LockSpaceOptions options;
    private final List<ACL> acl;
    private final String lockSpaceName;
    private final long incarnation;
    private final AtomicLong nextLockId = new AtomicLong(1);

    // guarded by lock
    private final Map<String, ResourceState> resources = new TreeMap<>();

    Resources(ZkLockSpace space) {
        this.space = space;
        this.lock = space.lock;
        this.zk = space.zk;
        this.paths = space.paths;
        this.options = space.options;
        this.acl = space.acl;
        this.lockSpaceName = space.lockSpaceName;
        this.incarnation = space.incarnation();
    }

    /** Every resource known here; under the lock. */
    Collection<ResourceState> all() {
        return resources.values();
    }

    /** Whether the resource is in the view; under the lock. */
    boolean known(String name) {
        return resources.containsKey(name);
    }

    /** A new handle on {@code name} for this node's slot; under the lock. */
    ZkLockResource newHandle(String name, BlockingListener blockingListener) {
        ResourceState rs = resourceState(name);
        LockKey key = new LockKey(space.members.slot(), incarnation, nextLockId.getAndIncrement());
        ZkLockResource h =
                new ZkLockResource(space, rs, key, blockingListener, LockValueBlock.zeros(options.valueBlockSize()));
        rs.handles.add(h);
        return h;
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

    /** The resource in the view, added when first seen (an event, a read or a caller); under the lock. */
    ResourceState resourceState(String name) {
        return resources.computeIfAbsent(
                name,
                n -> new ResourceState(
                        n, paths.resource(n), paths.version(n), new ResourceView(n, options.valueBlockSize(), 0)));
    }

    /** A watch event on a resource or one of its lock entries; under the lock. */
    void onResourceEvent(ZkLockPaths.Relative rel, WatchedEvent e, Actions out) {
        switch (rel.kind()) {
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
                space.engine.evaluate(rs, out);
            }
            default -> {}
        }
    }

    /** The connection is in doubt: no view may be trusted until it is read again; under the lock. */
    void markStale() {
        for (ResourceState rs : resources.values()) {
            rs.stale = true;
        }
    }

    /**
     * Creates the resource and its version znode in one transaction (version first, so anyone who
     * sees the resource can use version 0), waiting until the creation event has been applied.
     */
    void createResource(String name) throws DlmException {
        List<Op> ops = List.of(
                Op.create(paths.version(name), new byte[0], acl, CreateMode.PERSISTENT),
                Op.create(paths.resource(name), new byte[0], acl, CreateMode.PERSISTENT));
        // async, so the reply is handled on the event thread after the creation's own event
        Code rc = space.waits.multiAndWait(
                ops, System.nanoTime() + options.requestTimeout().toNanos(), "creating resource " + name);
        if (rc != Code.OK && rc != Code.NODEEXISTS) {
            throw ZkLockManager.translate("creating resource " + paths.resource(name), KeeperException.create(rc));
        }
    }

    /** Reads one resource again, as a part of the lockspace's full re-read ({@link Replica}). */
    void readResource(String name) {
        space.replica.expect();
        // one multi-read: the children and the version znode from the same state
        List<Op> reads = List.of(Op.getChildren(paths.resource(name)), Op.getData(paths.version(name)));
        zk.multi(
                reads,
                (rc, p, ctx, results) -> {
                    space.underLock(out -> {
                        int code = rc;
                        if (rc == Code.OK.intValue()
                                && results.size() == 2
                                && results.get(0) instanceof OpResult.GetChildrenResult children
                                && results.get(1) instanceof OpResult.GetDataResult version) {
                            ResourceState rs = resourceState(name);
                            rs.view.replace(
                                    children.getChildren(), version.getStat().getVersion());
                            rs.stale = false;
                        } else if (results != null
                                && !results.isEmpty()
                                && results.get(0) instanceof OpResult.ErrorResult err) {
                            code = err.getErr() == Code.NONODE.intValue() ? Code.OK.intValue() : err.getErr();
                        } else if (rc == Code.NONODE.intValue()) {
                            code = Code.OK.intValue();
                        }
                        space.feed.resyncStep(code, out);
                    });
                },
                null);
    }

    /**
     *
     * // ------------------------------------------------------------------ leaving
     *
     * /**
     * Closing: fails every pending request with CLOSED and submits the release of this node's
     * locks, one future per resource in {@code releases}; under the lock.
     */
    void releaseAll(long deadline, List<CompletableFuture<Void>> releases, Actions out) {
        for (ResourceState rs : resources.values()) {
            for (ZkLockResource h : rs.handles) {
                space.engine.failPending(
                        h, DlmException.Code.CLOSED, "lockspace " + lockSpaceName + " is closing", out);
            }
            if (!rs.view.ownedBy(space.members.slot(), incarnation).isEmpty()) {
                // a force-unlock: no value block is written or invalidated
                Plan plan = TablePlanner.plan(
                        rs.view,
                        rs.path,
                        rs.versionPath,
                        new TablePlanner.Purge(Set.of(new Owner(space.members.slot(), incarnation)), false),
                        null,
                        acl);
                CompletableFuture<Void> done = new CompletableFuture<>();
                releases.add(done);
                submitRelease(rs, plan, done, deadline);
            }
        }
    }

    /** Releases this node's locks on one resource while leaving, retrying a lost compare-and-set. */
    private void submitRelease(ResourceState rs, Plan plan, CompletableFuture<Void> done, long deadline) {
        if (plan.isEmpty()) {
            done.complete(null);
            return;
        }
        zk.multi(
                plan.ops(),
                (rc, path, ctx, results) -> {
                    Code code = Code.get(rc);
                    if (code == Code.OK) {
                        done.complete(null);
                        return;
                    }
                    if ((code == Code.BADVERSION || code == Code.NONODE || code == Code.NODEEXISTS)
                            && System.nanoTime() < deadline) {
                        lock.lock();
                        try {
                            submitRelease(
                                    rs,
                                    TablePlanner.plan(
                                            rs.view,
                                            rs.path,
                                            rs.versionPath,
                                            new TablePlanner.Purge(
                                                    Set.of(new Owner(space.members.slot(), incarnation)), false),
                                            null,
                                            acl),
                                    done,
                                    deadline);
                        } finally {
                            lock.unlock();
                        }
                        return;
                    }
                    done.completeExceptionally(KeeperException.create(code));
                },
                null);
    }

    /** Fails every pending request, and publishes that nothing is held; under the lock. */
    void failAll(LockSpaceState finalState, Actions out) {
        for (ResourceState rs : resources.values()) {
            for (ZkLockResource h : rs.handles) {
                space.engine.failPending(
                        h,
                        finalState == LockSpaceState.LOST ? DlmException.Code.LOCKSPACE_LOST : DlmException.Code.CLOSED,
                        "lockspace " + lockSpaceName + " is " + finalState,
                        out);
                // at once, not in callback order: nothing is held any more, and a user who sees
                // the final state must not see a lock
                h.publish(null, 0, h.valueBlock());
            }
        }
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
}
