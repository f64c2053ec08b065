package org.clustermd.dlm.zk;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockValueBlock;

/**
 * An operator's view of a cluster's lockspaces, read straight from ZooKeeper (the analog of
 * {@code dlm_tool lockdump}): members and slots, and for every resource its granted, converting
 * and waiting locks with their modes, and the value block in hex. Any znode this lock manager
 * would not have written is an error naming that znode.
 *
 * <p>Immutable results; {@link #read} is a sequence of plain reads, not a consistent snapshot.
 */
public final class LockSpaceDump {
    private LockSpaceDump() {}

    /** A live member. */
    public record Member(int slot, String incarnation, String nodeName) {}

    /** One lock; {@code granted} is UN for a new request, {@code requested} is empty when none. */
    public record Lock(
            int slot,
            String incarnation,
            long lockId,
            String granted,
            String requested,
            long gen,
            long seq,
            String znode) {}

    /**
     * One resource.
     *
     * @param version the compare-and-set version (how many grant or conversion transactions)
     * @param valueBlock the LVB in hex (trailing zero bytes trimmed), empty if never written
     */
    public record Resource(
            String name,
            int version,
            List<Lock> granted,
            List<Lock> converting,
            List<Lock> waiting,
            String valueBlock,
            boolean valueBlockValid) {}

    /** One lockspace. */
    public record LockSpaceInfo(String name, List<Member> members, List<String> departed, List<Resource> resources) {}

    /** Everything under one cluster. */
    public record Dump(String cluster, List<LockSpaceInfo> lockSpaces) {}

    /** Reads every lockspace of {@code cluster} under {@code root} (normally {@code /clustermd}). */
    public static Dump read(ZooKeeper zk, String root, String cluster) throws DlmException {
        String lsRoot = ZkLockPaths.lockSpacesPath(root, cluster);
        List<LockSpaceInfo> out = new ArrayList<>();
        try {
            if (zk.exists(lsRoot, false) == null) {
                // a typo in the name, or a cluster no node has joined yet: nothing is wrong with the state
                throw new DlmException(
                        DlmException.Code.NOT_FOUND,
                        "no cluster '" + cluster + "' under " + root + " (" + lsRoot + " does not exist)");
            }
            for (String ls : sorted(zk.getChildren(lsRoot, false))) {
                out.add(readLockSpace(zk, new ZkLockPaths(root, cluster, ls), ls));
            }
        } catch (KeeperException e) {
            throw ZkLockManager.translate("reading " + lsRoot, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while reading " + lsRoot);
        }
        return new Dump(cluster, out);
    }

    /**
     * The live members of one lockspace, empty when the cluster or the lockspace does not exist
     * (nobody ever joined it). What {@code clustermd create --force} asks before it overwrites
     * legs that may belong to a running array.
     */
    public static List<Member> members(ZooKeeper zk, String root, String cluster, String lockSpace)
            throws DlmException {
        ZkLockPaths paths = new ZkLockPaths(root, cluster, lockSpace);
        List<Member> members = new ArrayList<>();
        try {
            for (String m : sorted(children(zk, paths.members()))) {
                Members.MemberName mn = Members.MemberName.parse(m);
                if (mn == null) {
                    throw foreign(paths.member(m), "member znodes are named <slot4>_<incarnation16>");
                }
                try {
                    String node = new String(zk.getData(paths.member(m), false, null), StandardCharsets.UTF_8);
                    members.add(new Member(mn.slot(), String.format("%016x", mn.incarnation()), node));
                } catch (KeeperException.NoNodeException e) {
                    // left while we read
                }
            }
        } catch (KeeperException e) {
            throw ZkLockManager.translate("reading " + paths.members(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while reading " + paths.members());
        }
        return members;
    }

    private static LockSpaceInfo readLockSpace(ZooKeeper zk, ZkLockPaths paths, String name)
            throws KeeperException, InterruptedException, DlmException {
        for (String child : zk.getChildren(paths.root(), false)) {
            if (!List.of("members", "slots", "departed", "names", "recovery", "res")
                    .contains(child)) {
                throw foreign(paths.rootChild(child), "not part of a lockspace's layout");
            }
        }
        List<Member> members = new ArrayList<>();
        for (String m : sorted(children(zk, paths.members()))) {
            Members.MemberName mn = Members.MemberName.parse(m);
            if (mn == null) {
                throw foreign(paths.member(m), "member znodes are named <slot4>_<incarnation16>");
            }
            String node;
            try {
                node = new String(zk.getData(paths.member(m), false, null), StandardCharsets.UTF_8);
            } catch (KeeperException.NoNodeException e) {
                continue; // left while we read
            }
            members.add(new Member(mn.slot(), String.format("%016x", mn.incarnation()), node));
        }
        List<String> departed = sorted(children(zk, paths.departed()));
        List<Resource> resources = new ArrayList<>();
        for (String r : sorted(children(zk, paths.resources()))) {
            resources.add(readResource(zk, paths, r));
        }
        return new LockSpaceInfo(name, members, departed, resources);
    }

    private static Resource readResource(ZooKeeper zk, ZkLockPaths paths, String name)
            throws KeeperException, InterruptedException, DlmException {
        String path = paths.resource(name);
        List<Lock> granted = new ArrayList<>();
        List<Lock> converting = new ArrayList<>();
        List<Lock> waiting = new ArrayList<>();
        ValueBlockEntry lvb = null;
        for (String c : children(zk, path)) {
            if (c.startsWith(LockEntry.PREFIX)) {
                LockEntry e;
                try {
                    e = LockEntry.parse(c);
                } catch (IllegalArgumentException ex) {
                    throw foreign(ZkLockPaths.entry(path, c), ex.getMessage());
                }
                Lock l = new Lock(
                        e.key().slot(),
                        String.format("%016x", e.key().incarnation()),
                        e.key().lockId(),
                        e.granted() == null ? "UN" : e.granted().name(),
                        e.requested() == null ? "" : e.requested().name(),
                        e.gen(),
                        e.seq(),
                        c);
                (e.isConversion() ? converting : e.isNewRequest() ? waiting : granted).add(l);
            } else if (c.startsWith(ValueBlockEntry.PREFIX)) {
                try {
                    ValueBlockEntry v = ValueBlockEntry.parse(c, 1024);
                    if (lvb == null || v.seq() > lvb.seq()) {
                        lvb = v;
                    }
                } catch (IllegalArgumentException ex) {
                    throw foreign(ZkLockPaths.entry(path, c), ex.getMessage());
                }
            } else {
                throw foreign(ZkLockPaths.entry(path, c), "neither a lock (L_...) nor a value block (V_...)");
            }
        }
        Comparator<Lock> bySeq = Comparator.comparingLong(Lock::seq);
        granted.sort(Comparator.comparingInt(Lock::slot).thenComparingLong(Lock::lockId));
        converting.sort(bySeq);
        waiting.sort(bySeq);
        int version = -1;
        Stat st = zk.exists(paths.version(name), false);
        if (st != null) {
            version = st.getVersion();
        }
        return new Resource(
                name,
                version,
                granted,
                converting,
                waiting,
                lvb == null ? "" : trimmedHex(lvb.valueBlock()),
                lvb == null || lvb.valueBlock().isValid());
    }

    private static String trimmedHex(LockValueBlock v) {
        String hex = v.toHex();
        int end = hex.length();
        while (end >= 2 && hex.startsWith("00", end - 2)) {
            end -= 2;
        }
        return hex.substring(0, end);
    }

    private static List<String> children(ZooKeeper zk, String path) throws KeeperException, InterruptedException {
        try {
            return zk.getChildren(path, false);
        } catch (KeeperException.NoNodeException e) {
            return List.of();
        }
    }

    private static List<String> sorted(List<String> l) {
        List<String> s = new ArrayList<>(l);
        s.sort(null);
        return s;
    }

    private static DlmException foreign(String znode, String why) {
        return new DlmException(
                DlmException.Code.CORRUPT_STATE,
                "znode " + znode + " was not written by clustermd's lock manager: " + why);
    }
}
