package org.clustermd.dlm.zk;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.locks.ReentrantLock;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.zk.TablePlanner.Owner;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.clustermd.dlm.zk.ZkLockSpace.Actions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lockspace's membership, as this node sees it: the slot it claims when it joins, the live
 * members and the departures the watch reports, and the recovery episodes membership changes
 * start (recover_prep, memberLost, recover_done once the dead members' locks are purged),
 * with this node's part of the {@link RecoveryBarrier} (its recovery marks, and their cleanup
 * in the lowest live slot). Which dead members' locks may be purged is decided here; the purge
 * itself is a resource write, {@link ResourceEngine}'s.
 *
 * <p>Threads: the joining caller claims the slot (blocking, outside the lock until it reads the
 * view); ZooKeeper's event thread applies membership events, re-read answers and mark replies;
 * the callback queue's thread, or whichever thread drains it, reports recover_prep's return.
 * Everything here is guarded by the owning {@link ZkLockSpace}'s lock (the same object, handed
 * in, so that a membership change and the grants it allows are one atomic step), and what it
 * produces for the listener is enqueued under that lock through the lockspace's
 * {@link ZkLockSpace.Actions}.
 */
final class Members {
    // the lockspace's logger: a lockspace's messages keep one logger name, whichever part logs
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockSpace.class);

    private final ZkLockSpace space;
    private final ZkLockManager manager;
    private final ReentrantLock lock;
    private final ZooKeeper zk;
    private final ZkLockPaths paths;
    private final LockSpaceOptions options;
    private final LockSpaceListener listener;
    private final List<ACL> acl;
    private final String lockSpaceName;
    private final long incarnation;
    private final WriteStats stats;

    // everything below is guarded by lock
    private final Map<Integer, Long> members = new TreeMap<>();
    private final Set<String> departed = new HashSet<>();
    private final Set<Long> preparedDeaths = new HashSet<>();
    private final RecoveryBarrier barrier;
    private RecoveryEpisode episode;
    private int slot = -1;

    Members(ZkLockSpace space) {
        this.space = space;
        this.manager = space.manager;
        this.lock = space.lock;
        this.zk = space.zk;
        this.paths = space.paths;
        this.options = space.options;
        this.listener = space.listener;
        this.acl = space.acl;
        this.lockSpaceName = space.lockSpaceName;
        this.incarnation = space.incarnation();
        this.stats = space.writeStats();
        this.barrier = new RecoveryBarrier(paths);
    }

    // ------------------------------------------------------------------ the slot

    /** This node's slot, or -1 while joining; under the lock (toString and close's last steps read it without, as always). */
    int slot() {
        return slot;
    }

    /** The members map itself, for the re-read's before/after comparison; under the lock. */
    Map<Integer, Long> live() {
        return members;
    }

    /**
     * Claims a free slot (our preferred one if free) with our member znode in one transaction,
     * retrying when another node won the race; returns the slot. Blocking, on the joining
     * caller's thread, bounded by {@code deadline}; takes the lock only to read the view.
     */
    int claimSlot(long deadline) throws DlmException {
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
                    throw new DlmException(
                            DlmException.Code.SLOTS_EXHAUSTED,
                            "all " + options.slotCount() + " slots of lockspace " + lockSpaceName + " are taken by "
                                    + members.keySet());
                }
                byte[] data = nodeName.getBytes(StandardCharsets.UTF_8);
                ops.add(Op.create(paths.slotClaim(candidate), data, acl, CreateMode.EPHEMERAL));
                ops.add(Op.create(paths.member(candidate, incarnation), data, acl, CreateMode.EPHEMERAL));
                // counts joins, so that a purge decided before this join fails (RecoveryBarrier)
                ops.add(Op.setData(paths.members(), new byte[0], -1));
                String prefix = String.format("%04d_", candidate);
                for (String d : departed) {
                    if (d.startsWith(prefix)) {
                        ops.add(Op.delete(paths.departure(d), -1));
                    }
                }
            } finally {
                lock.unlock();
            }
            byte[] slotData = Integer.toString(candidate).getBytes(StandardCharsets.UTF_8);
            ops.add(
                    preferred == null
                            ? Op.create(paths.nodeName(nodeName), slotData, acl, CreateMode.PERSISTENT)
                            : Op.setData(paths.nodeName(nodeName), slotData, -1));
            ops.add(Op.create(paths.nodeNameMember(nodeName), slotData, acl, CreateMode.EPHEMERAL));
            Code rc = space.waits.multiAndWait(ops, deadline, "claiming slot " + candidate);
            if (rc == Code.OK) {
                return candidate;
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
            throw ZkLockManager.translate(
                    "claiming slot " + candidate + " of " + lockSpaceName, KeeperException.create(rc));
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
            throw new DlmException(
                    DlmException.Code.NODE_NAME_IN_USE,
                    "node name '" + nodeName
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
            throw new DlmException(
                    DlmException.Code.CORRUPT_STATE,
                    "znode " + paths.nodeName(nodeName) + " does not hold a slot number");
        } catch (KeeperException e) {
            throw ZkLockManager.translate("reading " + paths.nodeName(nodeName), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while joining");
        }
    }

    /** Records our own claim in the view; under the lock, as the join's first step. */
    void claimed(int claimed) {
        slot = claimed;
    }

    /** Our own member znode, committed with the claim; under the lock. */
    void addSelf() {
        members.put(slot, incarnation);
    }

    /**
     * The rest of the join, under the lock: the view is the state the claim committed in, so
     * recovery of deaths still visible in it is joined here (see the comment inside).
     */
    void afterJoin(int claimed, Actions out) {
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
        LOG.info(
                "joined lockspace {} as {} (incarnation {}), members {}",
                lockSpaceName,
                ours,
                Long.toHexString(incarnation),
                live);
        space.engine.evaluateAll(out);
        barrierStep();
    }

    // ------------------------------------------------------------------ reading everything

    /** The re-read's member list: replaces the view (under the lock). */
    void membersRead(int version, List<String> children) {
        barrier.membersRead(version);
        members.clear();
        for (String c : children) {
            MemberName m = MemberName.parse(c);
            if (m != null) {
                members.put(m.slot(), m.incarnation());
            }
        }
    }

    /** The re-read's departures: replace the view (under the lock). */
    void departedRead(List<String> children) {
        departed.clear();
        departed.addAll(children);
    }

    /** The re-read's recovery marks: replace the barrier's (under the lock). */
    void marksRead(List<String> children) {
        barrier.replaceAcks(children);
    }

    /**
     * After a complete re-read (under the lock, while a member): whoever came or went while this
     * node was cut off, compared with the members seen before the read; our own member gone means
     * the session's locks are gone.
     */
    void afterRead(Map<Integer, Long> membersBefore, Actions out) {
        if (!members.containsKey(slot) || members.get(slot) != incarnation) {
            out.add(() -> space.onLost("our member znode is gone"));
        } else {
            for (Map.Entry<Integer, Long> before : membersBefore.entrySet()) {
                if (!Objects.equals(members.get(before.getKey()), before.getValue())) {
                    String name = ZkLockPaths.memberName(before.getKey(), before.getValue());
                    memberGone(before.getKey(), before.getValue(), departed.contains(name), out);
                }
            }
            for (Map.Entry<Integer, Long> now : members.entrySet()) {
                if (!Objects.equals(membersBefore.get(now.getKey()), now.getValue())) {
                    memberJoined(now.getValue(), out);
                }
            }
        }
    }

    // ------------------------------------------------------------------ events

    /** A watch event under the members znode ({@code name} null: the znode itself); under the lock. */
    void onMembersEvent(Watcher.Event.EventType type, String name, Actions out) {
        if (name != null) {
            onMemberEvent(type, name, out);
        } else if (type == Watcher.Event.EventType.NodeDataChanged) {
            barrier.memberJoined();
        }
    }

    /** A watch event under the recovery marks; under the lock. */
    void onRecoveryEvent(Watcher.Event.EventType type, String name, Actions out) {
        if (name != null) {
            if (type == Watcher.Event.EventType.NodeCreated) {
                barrier.ackCreated(name);
                // another member's recover_prep returned: a purge may be due
                space.engine.evaluateAll(out);
            } else if (type == Watcher.Event.EventType.NodeDeleted) {
                barrier.ackDeleted(name);
            }
        }
    }

    /** A watch event under the departures; under the lock. */
    void onDepartedEvent(Watcher.Event.EventType type, String name) {
        if (name != null) {
            if (type == Watcher.Event.EventType.NodeCreated) {
                departed.add(name);
            } else if (type == Watcher.Event.EventType.NodeDeleted) {
                departed.remove(name);
            }
        }
    }

    private void onMemberEvent(Watcher.Event.EventType type, String name, Actions out) {
        MemberName m = MemberName.parse(name);
        if (m == null) {
            LOG.warn("lockspace {}: ignoring foreign member znode {}", lockSpaceName, name);
            return;
        }
        if (type == Watcher.Event.EventType.NodeCreated) {
            members.put(m.slot(), m.incarnation());
            if (space.member() && space.replica.current() && m.incarnation() != incarnation) {
                memberJoined(m.incarnation(), out);
            }
        } else if (type == Watcher.Event.EventType.NodeDeleted) {
            if (Objects.equals(members.get(m.slot()), m.incarnation())) {
                members.remove(m.slot());
            }
            if (!space.member() || !space.replica.current()) {
                return;
            }
            if (m.incarnation() == incarnation) {
                out.add(() -> space.onLost("our member znode was deleted"));
                return;
            }
            memberGone(m.slot(), m.incarnation(), departed.contains(name), out);
        }
    }

    private void memberJoined(long inc, Actions out) {
        startEpisode(out);
    }

    private void memberGone(int deadSlot, long inc, boolean graceful, Actions out) {
        LOG.info(
                "lockspace {}: member {} (incarnation {}) {}",
                lockSpaceName,
                new NodeSlot(deadSlot),
                Long.toHexString(inc),
                graceful ? "left" : "died");
        RecoveryEpisode ep = startEpisode(out);
        ep.gone.add(inc);
        if (ep.prepDelivered) {
            preparedDeaths.add(inc);
        }
        MemberId gone = new MemberId(new NodeSlot(deadSlot), inc);
        if (graceful) out.add(() -> listener.memberLeft(gone));
        else out.add(() -> listener.memberLost(gone));
        space.engine.evaluateAll(out);
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
        LOG.info(
                "lockspace {}: found the locks of member {} (incarnation {}), which {}",
                lockSpaceName,
                new NodeSlot(dead.slot()),
                Long.toHexString(dead.incarnation()),
                graceful ? "left" : "died");
        // our own slot's previous holder is our own earlier life: its dirty bits are ours to
        // resync on assembly, as md does on join, and recover_slot would have us wait on our own
        // bitmap lock
        if (dead.slot() != slot) {
            MemberId gone = new MemberId(new NodeSlot(dead.slot()), dead.incarnation());
            if (graceful) out.add(() -> listener.memberLeft(gone));
            else out.add(() -> listener.memberLost(gone));
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
        space.underLock(out -> {
            ep.prepDelivered = true;
            preparedDeaths.addAll(ep.gone);
            if (space.member()) {
                space.engine.evaluateAll(out);
                maybeFinishEpisode(out);
                barrierStep();
            }
        });
    }

    void maybeFinishEpisode(Actions out) {
        RecoveryEpisode ep = episode;
        if (ep == null || !ep.prepDelivered) {
            return;
        }
        for (ResourceState rs : space.resources.all()) {
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

    /** The live member in {@code s}, with its incarnation; under the lock. */
    Optional<MemberId> memberIn(NodeSlot s) {
        Long inc = members.get(s.number());
        return inc == null ? Optional.empty() : Optional.of(new MemberId(s, inc));
    }

    Set<NodeSlot> memberSlots() {
        Set<NodeSlot> s = new TreeSet<>();
        for (int m : members.keySet()) {
            s.add(new NodeSlot(m));
        }
        return Collections.unmodifiableSet(s);
    }

    /**
     * The gone members whose locks in {@code rs} may be purged now: recover_prep has returned for
     * them here and on every live member ({@link RecoveryBarrier}). A dead owner no event
     * announced joins the episode instead. Under the lock.
     */
    Set<Owner> purgeable(ResourceState rs, Actions out) {
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
        return orphans;
    }

    /** {@code plan}, failing if a member joined since the barrier was checked; under the lock. */
    Plan guarded(Plan plan) {
        return barrier.guarded(plan);
    }

    /** Owners of locks in the view that are not live members. */
    private Set<Owner> orphanOwners() {
        Set<Owner> out = new HashSet<>();
        for (ResourceState rs : space.resources.all()) {
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
    void barrierStep() {
        if (!space.member() || !space.replica.current()) {
            return;
        }
        if (preparedDeaths.isEmpty() && barrier.noMarks()) {
            // nothing to mark (a mark is only for a death whose recover_prep returned here) and
            // nothing to clean: skip the walk over every resource's locks this runs on each event
            return;
        }
        Set<Owner> orphans = orphanOwners();
        Owner self = new Owner(slot, incarnation);
        for (Owner dead : barrier.acksToWrite(orphans, preparedDeaths, self)) {
            stats.plain.increment();
            zk.create(
                    barrier.ackPath(dead, self),
                    new byte[0],
                    acl,
                    CreateMode.PERSISTENT,
                    (rc, path, ctx, name) -> {
                        lock.lock();
                        try {
                            barrier.ackWritten(dead);
                            Code code = Code.get(rc);
                            if (code != Code.OK
                                    && code != Code.NODEEXISTS
                                    && code != Code.CONNECTIONLOSS
                                    && code != Code.SESSIONEXPIRED) {
                                LOG.warn(
                                        "lockspace {}: writing recovery mark {} failed: {}", lockSpaceName, path, code);
                            }
                        } finally {
                            lock.unlock();
                        }
                    },
                    null);
        }
        if (members.isEmpty() || members.keySet().iterator().next() != slot) {
            return;
        }
        for (ResourceState rs : space.resources.all()) {
            if (rs.stale || !rs.view.settled()) {
                return;
            }
        }
        List<Op> ops = barrier.cleanup(orphans, members);
        if (ops.isEmpty()) {
            return;
        }
        stats.plain.increment();
        zk.multi(
                ops,
                (rc, path, ctx, results) -> {
                    lock.lock();
                    try {
                        // on failure (a mark went meanwhile) the next event tries again
                        barrier.cleaned();
                    } finally {
                        lock.unlock();
                    }
                },
                null);
    }

    /** One recovery episode: from the first membership change to recover_done. */
    private static final class RecoveryEpisode {
        final Set<Long> gone = new HashSet<>();
        boolean prepDelivered;
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
                return new MemberName(
                        Integer.parseInt(name.substring(0, 4)), Long.parseUnsignedLong(name.substring(5), 16));
            } catch (NumberFormatException e) {
                return null;
            }
        }
    }
}
