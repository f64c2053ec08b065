package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.apache.zookeeper.Op;
import org.clustermd.dlm.zk.Members.MemberName;
import org.clustermd.dlm.zk.TablePlanner.Owner;
import org.clustermd.dlm.zk.TablePlanner.Plan;

/**
 * The cluster-wide half of recovery: a dead member's locks are purged only once every live
 * member has returned from recover_prep for that death. The Linux DLM stops lock activity and runs
 * recover_prep on every node before it recovers anything, and md relies on it: every survivor has
 * suspended read balancing before anyone takes the dead node's bitmap lock
 * (docs/md-cluster-protocol.md, node failure; docs/lessons.md §3).
 *
 * <p>The protocol, on top of the ordered event stream:
 * <ul>
 *   <li>A member whose recover_prep has returned for a death that left locks behind writes one
 *       mark, {@code recovery/<dead>+<member>} ({@link ZkLockPaths#recoveryAck}).</li>
 *   <li>A purge of the dead member's locks is decided only on a view that holds a mark from every
 *       live member, and its transaction checks the members directory's data version, which every
 *       slot claim sets: a member that joined after the view makes the purge fail, and it is
 *       decided again on a view that shows the joiner.</li>
 *   <li>A joiner that finds a dead member's locks gets recover_prep (and the rest of the sequence)
 *       for that death and writes its mark like everyone else.</li>
 *   <li>A member that dies or leaves before writing its mark is no longer live: it drops out.</li>
 *   <li>Once a dead member's locks are gone, the live member in the lowest slot deletes its marks
 *       in one transaction.</li>
 * </ul>
 * Cost per death that left locks: one create per live member and one delete transaction; a purge
 * carries one more check but is still one transaction.
 *
 * <p>Not thread-safe: owned by its {@link ZkLockSpace} and used under its lock.
 */
final class RecoveryBarrier {
    private final ZkLockPaths paths;
    /** The marks in the view: znode name to (dead, member). */
    private final Map<String, Ack> acks = new HashMap<>();
    /** Dead incarnations whose mark of ours is being written. */
    private final Set<Long> writing = new HashSet<>();

    private boolean cleaning;
    /** The members directory's data version as the view has it: how many slot claims committed. */
    private int membersVersion;

    /** One mark: {@code member} has returned from recover_prep for {@code dead}'s death. */
    record Ack(Owner dead, Owner member) {
        /** Parses {@code <slot4>_<incarnation16>+<slot4>_<incarnation16>}; null if not such a name. */
        static Ack parse(String name) {
            int plus = name.indexOf('+');
            if (plus < 0) {
                return null;
            }
            MemberName dead = MemberName.parse(name.substring(0, plus));
            MemberName member = MemberName.parse(name.substring(plus + 1));
            if (dead == null || member == null) {
                return null;
            }
            return new Ack(new Owner(dead.slot(), dead.incarnation()), new Owner(member.slot(), member.incarnation()));
        }
    }

    RecoveryBarrier(ZkLockPaths paths) {
        this.paths = paths;
    }

    // ------------------------------------------------------------------ the replica

    /** Replaces the marks with a fresh read of the directory. */
    void replaceAcks(Collection<String> children) {
        acks.clear();
        children.forEach(this::ackCreated);
    }

    void ackCreated(String name) {
        Ack a = Ack.parse(name);
        if (a != null) {
            acks.put(name, a);
        }
    }

    void ackDeleted(String name) {
        acks.remove(name);
    }

    /** The members directory as read, with its data version. */
    void membersRead(int version) {
        membersVersion = version;
    }

    /** A slot claim set the members directory's data (one event per claim, in order). */
    void memberJoined() {
        membersVersion++;
    }

    // ------------------------------------------------------------------ decisions

    /** True while the view holds no recovery mark at all, so there is none to clean up. */
    boolean noMarks() {
        return acks.isEmpty();
    }

    /** True if every live member, this node included, has marked {@code dead}'s death. */
    boolean everyMemberPrepared(Owner dead, Map<Integer, Long> members) {
        Set<Owner> marked = new HashSet<>();
        for (Ack a : acks.values()) {
            if (a.dead().equals(dead)) {
                marked.add(a.member());
            }
        }
        for (Map.Entry<Integer, Long> m : members.entrySet()) {
            if (!marked.contains(new Owner(m.getKey(), m.getValue()))) {
                return false;
            }
        }
        return true;
    }

    /**
     * {@code purge} with the check that no member joined since the view it was decided on: a
     * joiner this view does not show has not been asked for its mark.
     */
    Plan guarded(Plan purge) {
        if (purge.isEmpty()) {
            return purge;
        }
        List<Op> ops = new ArrayList<>(purge.ops());
        ops.add(Op.check(paths.members(), membersVersion));
        return new Plan(ops, purge.cas(), purge.own(), purge.grants());
    }

    /**
     * The deaths this node must mark now: dead owners that still hold locks, whose recover_prep
     * has returned here, that have no mark of ours in the view and none being written. They are
     * recorded as being written; call {@link #ackWritten} with each reply.
     */
    List<Owner> acksToWrite(Set<Owner> orphans, Set<Long> prepared, Owner self) {
        List<Owner> out = new ArrayList<>();
        for (Owner dead : orphans) {
            if (prepared.contains(dead.incarnation())
                    && !writing.contains(dead.incarnation())
                    && !acks.containsValue(new Ack(dead, self))) {
                writing.add(dead.incarnation());
                out.add(dead);
            }
        }
        return out;
    }

    void ackWritten(Owner dead) {
        writing.remove(dead.incarnation());
    }

    /**
     * The deletes of every mark whose death is over (the dead member holds no lock and is not
     * live), as one transaction, or nothing when there is none or a cleanup is in flight. Only
     * for a view in which every resource is settled and current: a death's locks only ever
     * disappear, so a view that shows none means none will come back.
     */
    List<Op> cleanup(Set<Owner> orphans, Map<Integer, Long> members) {
        if (cleaning) {
            return List.of();
        }
        List<Op> ops = new ArrayList<>();
        for (Map.Entry<String, Ack> e : acks.entrySet()) {
            Owner dead = e.getValue().dead();
            boolean live = Objects.equals(members.get(dead.slot()), dead.incarnation());
            if (!live && !orphans.contains(dead)) {
                ops.add(Op.delete(paths.recoveryAck(e.getKey()), -1));
            }
        }
        cleaning = !ops.isEmpty();
        return ops;
    }

    void cleaned() {
        cleaning = false;
    }

    /** The path of this node's mark for {@code dead}. */
    String ackPath(Owner dead, Owner self) {
        return paths.recoveryAck(dead.slot(), dead.incarnation(), self.slot(), self.incarnation());
    }
}
