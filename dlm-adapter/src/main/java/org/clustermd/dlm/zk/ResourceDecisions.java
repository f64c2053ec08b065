package org.clustermd.dlm.zk;

import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.BlockingListener;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.zk.Pending.Phase;
import org.clustermd.dlm.zk.TablePlanner.Owner;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.clustermd.dlm.zk.ZkLockSpace.Actions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What {@link ResourceEngine} decides for a resource as a whole rather than for one handle's
 * request: the blocking callbacks owed to this node's holders (each handle's {@code basted}
 * bookkeeping, so a waiter is basted once), the purge of dead members' locks that {@link
 * Members#purgeable} allows, the elected grant pass, and the system writes these make (a
 * resource's {@code systemWriteInFlight}). Called only from {@link ResourceEngine#evaluate}, once
 * the engine can decide on the resource; moved out of it unchanged.
 *
 * <p>Threads: whichever thread evaluates a resource (user threads, ZooKeeper's event thread, the
 * re-read, session health and membership changes), and ZooKeeper's event thread for a system
 * write's result. Everything it touches (the views, the handles' {@code basted} sets, {@code
 * systemWriteInFlight}) is guarded by the owning {@link ZkLockSpace}'s lock; callbacks are
 * enqueued under it through {@link ZkLockSpace.Actions} and run after it is released.
 */
final class ResourceDecisions {
    // the lockspace's logger: a lockspace's messages keep one logger name, whichever part logs
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockSpace.class);

    private final ZkLockSpace space;
    private final ResourceEngine engine;
    private final ZooKeeper zk;
    private final List<ACL> acl;
    private final String lockSpaceName;
    private final long incarnation;
    private final WriteStats stats;

    ResourceDecisions(ZkLockSpace space, ResourceEngine engine) {
        this.space = space;
        this.engine = engine;
        this.zk = space.zk;
        this.acl = space.acl;
        this.lockSpaceName = space.lockSpaceName;
        this.incarnation = space.incarnation();
        this.stats = space.writeStats();
    }

    void deliverBasts(ResourceState rs, Actions out) {
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
                if (x.isPending()
                        && !x.key().equals(h.key)
                        && !x.requested().isCompatibleWith(mine.granted())
                        && h.basted.add(x.znode())) {
                    LockMode requested = x.requested();
                    BlockingListener bl = h.blockingListener;
                    out.add(() -> bl.onBlocking(h, requested));
                }
            }
        }
    }

    /**
     * Purges locks of members that are gone, once {@link Members#purgeable} allows it (recover_prep
     * has returned for them here and on every live member, {@link RecoveryBarrier}).
     */
    void purgeOrphans(ResourceState rs, Actions out) {
        if (rs.systemWriteInFlight) {
            return;
        }
        Set<Owner> orphans = space.members.purgeable(rs, out);
        if (orphans.isEmpty()) {
            return;
        }
        Plan plan = space.members.guarded(
                TablePlanner.plan(rs.view, rs.path, rs.versionPath, new TablePlanner.Purge(orphans, true), null, acl));
        if (!plan.isEmpty()) {
            stats.purges.increment();
        }
        systemWrite(rs, plan);
    }

    /**
     * If some waiting request is grantable and the first such one (in queue order) is ours, we
     * write the grant pass for everyone. Releasers normally grant in their own transaction; this
     * covers releases decided on a view that did not yet show the waiter.
     */
    void electedGrantPass(ResourceState rs, Actions out) {
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
        if (first.key().slot() != space.members.slot() || first.key().incarnation() != incarnation) {
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
        engine.count(plan);
        zk.multi(
                plan.ops(),
                (rc, path, ctx, results) -> {
                    space.underLock(out -> {
                        rs.systemWriteInFlight = false;
                        Code code = Code.get(rc);
                        if (code == Code.BADVERSION || code == Code.NONODE || code == Code.NODEEXISTS) {
                            stats.conflicts.increment();
                            LOG.trace("{} system write lost: {}", lockSpaceName, code);
                        }
                        if (code == Code.SESSIONEXPIRED) {
                            out.add(() -> space.onLost("session expired"));
                        } else if (code != Code.OK
                                && code != Code.BADVERSION
                                && code != Code.NONODE
                                && code != Code.NODEEXISTS
                                && code != Code.CONNECTIONLOSS) {
                            LOG.warn("lockspace {}: write to {} failed: {}", lockSpaceName, rs.path, code);
                        }
                        engine.evaluate(rs, out);
                        space.members.maybeFinishEpisode(out);
                    });
                },
                null);
    }
}
