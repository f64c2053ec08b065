package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.Pending.Kind;
import org.clustermd.dlm.zk.Pending.Phase;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.clustermd.dlm.zk.ZkLockSpace.Actions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The requests on a lockspace's resources: this node's {@link Pending} operations (request,
 * conversion, cancel, republish, unlock) and the engine that brings a resource forward after any
 * change (completes what the view shows done, plans and submits writes, delivers blocking
 * callbacks, writes the purge of dead members' locks that {@link Members} allows, and the
 * elected grant pass). A pending operation moves only by {@link Pending#to}, which refuses a move
 * the engine never makes; a cancel is settled only by {@code finishCancelled}. The resources
 * themselves are {@link Resources}'; what is decided for a resource as a whole (blocking
 * callbacks, the purge, the elected grant pass and their system writes) is {@link
 * ResourceDecisions}'.
 *
 * <p>Threads: user threads submit requests, cancels and unlocks; ZooKeeper's event thread
 * applies write results and hands over changed resources; the re-read, session health and
 * membership changes re-evaluate resources from whichever thread they run on. Everything it
 * touches (the views, the handles' engine state) is guarded by the owning {@link ZkLockSpace}'s
 * lock, the same object handed in, since a grant decision must see membership, session health
 * and the lock table as one state. Completions and callbacks are enqueued under that lock through
 * {@link ZkLockSpace.Actions}, in the order the lock serialised them, and run after it is
 * released.
 */
final class ResourceEngine {
    // the lockspace's logger: a lockspace's messages keep one logger name, whichever part logs
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockSpace.class);

    private final ZkLockSpace space;
    private final ReentrantLock lock;
    private final ZooKeeper zk;
    private final ZkLockPaths paths;
    private final LockSpaceOptions options;
    private final List<ACL> acl;
    private final String lockSpaceName;
    private final long incarnation;
    private final WriteStats stats;
    private final ResourceDecisions decisions;

    ResourceEngine(ZkLockSpace space) {
        this.space = space;
        this.lock = space.lock;
        this.zk = space.zk;
        this.paths = space.paths;
        this.options = space.options;
        this.acl = space.acl;
        this.lockSpaceName = space.lockSpaceName;
        this.incarnation = space.incarnation();
        this.stats = space.writeStats();
        this.decisions = new ResourceDecisions(space, this);
    }

    /** Brings every resource forward ({@link #evaluate}); under the lock. */
    void evaluateAll(Actions out) {
        for (ResourceState rs : space.resources.all()) {
            evaluate(rs, out);
        }
    }

    /**
     * After a complete re-read (under the lock, while a member): settles the writes whose reply
     * the cut lost, and brings every resource forward.
     */
    void afterRead(Actions out) {
        for (ResourceState rs : space.resources.all()) {
            for (ZkLockResource h : rs.handles) {
                if (h.pending != null && h.pending.phase() == Phase.UNCERTAIN) {
                    reconcileUncertain(rs, h);
                }
            }
            evaluate(rs, out);
        }
    }

    // ------------------------------------------------------------------ requests

    CompletableFuture<LockGrant> request(ZkLockResource h, LockMode mode, boolean noQueue) {
        Objects.requireNonNull(mode, "mode");
        return space.underLockGet(out -> {
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
                    long decidedAt = space.grantDecidedAt();
                    out.add(() -> space.deliverGrant(f, grant, decidedAt, rs.name));
                    return f;
                }
                h.pending = new Pending(Kind.REPUBLISH, mode, noQueue, e.znode(), e.granted());
            } else {
                h.pending = new Pending(
                        Kind.CONVERT, mode, noQueue, e == null ? null : e.znode(), e == null ? null : e.granted());
            }
            // taken before evaluate, which may complete the request and clear h.pending
            CompletableFuture<LockGrant> result = h.pending.future;
            out.add(() -> h.publishRequested(mode));
            evaluate(rs, out);
            return result;
        });
    }

    CompletableFuture<Boolean> cancel(ZkLockResource h, DlmException.Code reason) {
        return space.underLockGet(out -> {
            Pending p = h.pending;
            if (p == null || p.kind != Kind.CONVERT) {
                // nothing to cancel: the request may have ended just now, its grant still queued
                // for delivery, so answer behind it; the caller then reads the outcome in
                // grantedMode() (docs/lessons.md §73)
                CompletableFuture<Boolean> none = new CompletableFuture<>();
                out.add(() -> none.complete(false));
                return none;
            }
            return startCancel(h, p, reason, out);
        });
    }

    /**
     * Cancels the pending conversion {@code p} of {@code h} (the first reason given wins): at
     * once when it was never written, otherwise the engine takes the request back. Under the lock.
     */
    private CompletableFuture<Boolean> startCancel(ZkLockResource h, Pending p, DlmException.Code reason, Actions out) {
        if (p.cancelResult == null) {
            p.cancelResult = new CompletableFuture<>();
            p.cancelReason = reason;
        }
        CompletableFuture<Boolean> r = p.cancelResult;
        if (p.phase() == Phase.TO_WRITE || p.phase() == Phase.SYNCING) {
            // never written: nothing to take back, for the other locks of a joint request neither
            finishCancelled(h, p, out);
            if (p.joint != null) p.joint.drive(out);
        } else {
            evaluate(h.resource, out);
        }
        return r;
    }

    CompletableFuture<LockGrant> unlock(ZkLockResource h) {
        return space.underLockGet(out -> {
            if (space.state() == LockSpaceState.LOST || space.state() == LockSpaceState.CLOSED) {
                return CompletableFuture.completedFuture(null);
            }
            Pending p = h.pending;
            if (p != null && p.kind == Kind.CONVERT) {
                // cancel first, then unlock whatever is held
                CompletableFuture<LockGrant> done = new CompletableFuture<>();
                CompletableFuture<Boolean> cancelled = startCancel(h, p, DlmException.Code.CANCELLED, out);
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
                return CompletableFuture.failedFuture(new DlmException(
                        DlmException.Code.INVALID_REQUEST, "an operation is already pending on " + h.name()));
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
            CompletableFuture<LockGrant> result = h.pending.future;
            evaluate(h.resource, out);
            return result;
        });
    }

    /**
     * What {@link ZkLockResource#awaitNoRequest} waits for: the pending request's future
     * ({@code pending}), which completes after the request's outcome is published; with none
     * pending, a marker queued behind every completion produced so far, so that what the handle
     * publishes is up to date once it ran.
     */
    record Settling(CompletableFuture<?> done, boolean pending) {}

    /** The next thing to wait for before {@code h} has no request pending; null when the lockspace is LOST or CLOSED. */
    Settling settling(ZkLockResource h) {
        return space.underLockGet(out -> {
            if (space.state() == LockSpaceState.LOST || space.state() == LockSpaceState.CLOSED) {
                return null; // every request failed, and nothing is held, published at once
            }
            if (h.pending != null) {
                return new Settling(h.pending.future, true);
            }
            CompletableFuture<Void> marker = new CompletableFuture<>();
            out.add(() -> marker.complete(null));
            return new Settling(marker, false);
        });
    }

    /** Why a new operation cannot start now, or null. */
    DlmException refuse(ZkLockResource h) {
        if (space.state() == LockSpaceState.LOST) {
            return new DlmException(
                    DlmException.Code.LOCKSPACE_LOST, "lockspace " + lockSpaceName + " lost its session");
        }
        if (space.state() == LockSpaceState.CLOSED || !space.member()) {
            return new DlmException(DlmException.Code.CLOSED, "lockspace " + lockSpaceName + " is closed");
        }
        if (space.state() == LockSpaceState.SUSPENDED) {
            return new DlmException(
                    DlmException.Code.SUSPENDED, "lockspace " + lockSpaceName + " is suspended (connection in doubt)");
        }
        if (h.pending != null) {
            return new DlmException(
                    DlmException.Code.INVALID_REQUEST,
                    "a request is already pending on " + h.name() + ": " + h.pending);
        }
        String foreign = h.resource.view.foreignChild();
        if (foreign != null) {
            return corrupt(h.resource, foreign);
        }
        return null;
    }

    private DlmException corrupt(ResourceState rs, String foreign) {
        return new DlmException(
                DlmException.Code.CORRUPT_STATE,
                "resource " + rs.path + " holds a znode this lock manager did not write: '" + foreign + "'");
    }

    // ------------------------------------------------------------------ the engine

    /**
     * Brings one resource forward after any change: completes what the view shows done, decides
     * and submits writes, delivers blocking callbacks, purges dead members' locks and runs the
     * elected grant pass. Called with the lock held.
     */
    void evaluate(ResourceState rs, Actions out) {
        ResourceView v = rs.view;
        if (!v.settled()) {
            return;
        }
        String foreign = v.foreignChild();
        if (foreign != null) {
            for (ZkLockResource h : rs.handles) {
                failPending(
                        h, DlmException.Code.CORRUPT_STATE, corrupt(rs, foreign).getMessage(), out);
            }
            return;
        }
        for (ZkLockResource h : new ArrayList<>(rs.handles)) {
            drive(rs, h, out);
        }
        if (!canDecide(rs)) {
            return;
        }
        decisions.deliverBasts(rs, out);
        decisions.purgeOrphans(rs, out);
        decisions.electedGrantPass(rs, out);
    }

    boolean canDecide(ResourceState rs) {
        return space.member()
                && space.state() == LockSpaceState.ACTIVE
                && space.replica.current()
                && !rs.stale
                && rs.view.settled()
                && rs.view.foreignChild() == null;
    }

    private void drive(ResourceState rs, ZkLockResource h, Actions out) {
        Pending p = h.pending;
        if (p == null) {
            return;
        }
        ResourceView v = rs.view;
        LockEntry e = v.find(h.key);
        boolean written = p.phase() == Phase.WRITING || p.phase() == Phase.QUEUED;
        if (written
                && p.kind != Kind.UNLOCK
                && !p.cancelWriting
                && e != null
                && !e.isPending()
                && e.granted() == p.mode
                && !e.znode().equals(p.baseZnode)) {
            if (p.phase() == Phase.WRITING) {
                stats.grantsBeforeReply.increment(); // our own write granted it: its reply is still to come
            }
            completeGrant(rs, h, p, e, out);
            return;
        }
        if (p.phase() == Phase.WRITING && p.kind == Kind.UNLOCK && e == null) {
            // the lock is gone from the ordered view: our delete committed (or a purge took it),
            // and nothing holds it for us any more; its reply, still to come, would say the same
            // later (docs/lessons.md §71)
            stats.unlocksBeforeReply.increment();
            h.pending = null;
            out.add(() -> h.publish(null, 0, h.valueBlock()));
            out.add(() -> p.future.complete(null));
            return;
        }
        if (p.phase() != Phase.TO_WRITE && p.phase() != Phase.QUEUED) {
            return; // waiting for a write result, a sync, a token read or a resync
        }
        if (p.joint != null && p.phase() == Phase.TO_WRITE) {
            p.joint.drive(out); // written with the other locks of its joint request, or not at all
            return;
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
                LockValueBlock publish = e.granted() != null && e.granted().isWriteMode()
                        ? ValueBlockEntry.toPublish(h.valueBlock)
                        : null;
                write(
                        rs,
                        h,
                        p,
                        TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Unlock(h.key), publish, acl),
                        out);
            }
            case REPUBLISH ->
                write(
                        rs,
                        h,
                        p,
                        TablePlanner.plan(
                                v,
                                rs.path,
                                rs.versionPath,
                                new TablePlanner.Republish(h.key),
                                ValueBlockEntry.toPublish(h.valueBlock),
                                acl),
                        out);
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
                failPending(
                        h,
                        DlmException.Code.CORRUPT_STATE,
                        "queued request on " + rs.name + " disappeared without being granted",
                        out);
                return;
            }
            if (p.cancelReason == null) {
                for (LockEntry victim : GrantPolicy.evaluate(v.entries()).victims()) {
                    if (victim.key().equals(h.key)) {
                        p.cancelReason = DlmException.Code.CONVERSION_DEADLOCK;
                        LOG.info(
                                "lockspace {}: conversion {} -> {} on {} is deadlocked; cancelling it",
                                lockSpaceName,
                                e.granted(),
                                e.requested(),
                                rs.name);
                    }
                }
            }
            if (p.cancelReason != null) {
                p.cancelWriting = true;
                write(
                        rs,
                        h,
                        p,
                        TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Cancel(h.key), null, acl),
                        out);
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
        LockValueBlock publish =
                e != null && LockMode.transferOnGrant(e.granted(), p.mode) == LockMode.ValueBlockTransfer.WRITE
                        ? ValueBlockEntry.toPublish(h.valueBlock)
                        : null;
        Plan plan =
                TablePlanner.plan(v, rs.path, rs.versionPath, new TablePlanner.Request(h.key, p.mode), publish, acl);
        if (!plan.ownGranted() && p.noQueue) {
            if (!p.synced) {
                // our view may lag: a sync brings every earlier event in before its reply
                p.to(Phase.SYNCING);
                zk.sync(rs.path, (rc, path, ctx) -> afterSync(rs, h, p), null);
                return;
            }
            failPending(
                    h, DlmException.Code.NOT_GRANTED, p.mode + " on " + rs.name + " cannot be granted at once", out);
            return;
        }
        write(rs, h, p, plan, out);
    }

    private void afterSync(ResourceState rs, ZkLockResource h, Pending p) {
        space.underLock(out -> {
            if (h.pending == p && p.phase() == Phase.SYNCING) {
                p.synced = true;
                p.to(Phase.TO_WRITE);
                if (p.cancelReason != null) {
                    finishCancelled(h, p, out);
                } else {
                    evaluate(rs, out);
                }
            }
        });
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
        if (h.pending != p) {
            // completed from the view already (the usual case for an uncontended grant or unlock):
            // a request once replaced never comes back, so this needs no lock, and the event
            // thread does not queue behind the caller's next request for nothing
            return;
        }
        space.underLock(out -> {
            if (h.pending != p) {
                return; // completed from the view already (a grant, or an unlock)
            }
            if (lostRace(rc)) stats.conflicts.increment();
            settle(rs, h, p, rc, out);
            evaluate(rs, out);
        });
    }

    /** What the reply {@code rc} of {@code p}'s write means for it; the caller evaluates after. */
    void settle(ResourceState rs, ZkLockResource h, Pending p, Code rc, Actions out) {
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
                LOG.trace("{} write for {} lost: {}", lockSpaceName, p, rc);
                if (p.cancelWriting) {
                    p.cancelWriting = false;
                    p.to(Phase.QUEUED);
                } else {
                    p.to(Phase.TO_WRITE);
                }
            }
            case CONNECTIONLOSS, OPERATIONTIMEOUT -> p.to(Phase.UNCERTAIN);
            case SESSIONEXPIRED, SESSIONMOVED -> out.add(() -> space.onLost("session expired"));
            case NOAUTH ->
                failPending(
                        h,
                        DlmException.Code.NO_AUTH,
                        "ZooKeeper refused the write to " + rs.path + ": wrong or missing credentials",
                        out);
            default ->
                failPending(
                        h, DlmException.Code.UNAVAILABLE, "ZooKeeper failed the write to " + rs.path + ": " + rc, out);
        }
    }

    static boolean lostRace(Code rc) {
        return rc == Code.BADVERSION || rc == Code.NONODE || rc == Code.NODEEXISTS || rc == Code.NOTEMPTY;
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
                ? LockMode.ValueBlockTransfer.WRITE
                : LockMode.transferOnGrant(p.baseMode, p.mode);
        LockValueBlock lvb = transfer == LockMode.ValueBlockTransfer.READ
                ? rs.view.valueBlock()
                : ValueBlockEntry.toPublish(h.valueBlock);
        long token = 0;
        if (p.mode.isWriteMode()) {
            token = rs.view.createdZxid(e.znode());
            if (token == 0) {
                // granted while we were disconnected: read the grant's zxid
                p.to(Phase.TOKEN_READ);
                zk.exists(
                        ZkLockPaths.entry(rs.path, e.znode()),
                        false,
                        (rc, path, ctx, stat) -> {
                            space.underLock(later -> {
                                if (h.pending == p) {
                                    if (stat != null) {
                                        finishGrant(h, p, lvb, stat.getCzxid(), later);
                                    } else {
                                        p.to(Phase.QUEUED);
                                        evaluate(rs, later);
                                    }
                                }
                            });
                        },
                        null);
                return;
            }
        }
        finishGrant(h, p, lvb, token, out);
    }

    private void finishGrant(ZkLockResource h, Pending p, LockValueBlock lvb, long token, Actions out) {
        h.pending = null;
        h.valueBlock = lvb;
        LockGrant grant = new LockGrant(p.mode, lvb, token);
        out.add(() -> h.publish(p.mode, token, lvb));
        long decidedAt = space.grantDecidedAt();
        out.add(() -> space.deliverGrant(p.future, grant, decidedAt, h.name()));
        if (p.cancelResult != null) {
            out.add(() -> p.cancelResult.complete(false));
        }
    }

    void finishCancelled(ZkLockResource h, Pending p, Actions out) {
        h.pending = null;
        DlmException.Code reason = p.cancelReason == null ? DlmException.Code.CANCELLED : p.cancelReason;
        String what = reason == DlmException.Code.CONVERSION_DEADLOCK
                ? "conversion " + p.baseMode + " -> " + p.mode + " on " + h.name()
                        + " would deadlock with another conversion; cancelled, " + p.baseMode + " still held"
                : "request for " + p.mode + " on " + h.name() + " was cancelled";
        DlmException ex =
                new DlmException(reason == DlmException.Code.TIMEOUT ? DlmException.Code.CANCELLED : reason, what);
        LockMode held = p.baseMode;
        out.add(() -> h.publish(held, held != null && held.isWriteMode() ? h.fencingToken() : 0, h.valueBlock()));
        out.add(() -> p.future.completeExceptionally(ex));
        if (p.cancelResult != null) {
            out.add(() -> p.cancelResult.complete(true));
        }
    }

    void failPending(ZkLockResource h, DlmException.Code code, String why, Actions out) {
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

    void count(Plan plan) {
        (plan.cas() ? stats.cas : stats.plain).increment();
        if (LOG.isTraceEnabled()) {
            LOG.trace(
                    "{} write {} grants={} own={} ops={}",
                    lockSpaceName,
                    plan.cas() ? "cas" : "plain",
                    plan.grants(),
                    plan.own(),
                    plan.ops().stream()
                            .map(o -> o.getType() + ":"
                                    + o.getPath().substring(o.getPath().lastIndexOf('/') + 1))
                            .toList());
        }
    }
}
