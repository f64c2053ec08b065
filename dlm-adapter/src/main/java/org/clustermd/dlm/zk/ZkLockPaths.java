package org.clustermd.dlm.zk;

import java.util.regex.Pattern;
import org.clustermd.dlm.DlmException;

/**
 * The znode layout, in one place. Under {@code <root>/<cluster>/ls/<lockspace>}:
 *
 * <pre>
 * members/&lt;slot4&gt;_&lt;incarnation16&gt;  ephemeral; data: node name. One per live member. The
 *                                  directory's data version counts joins (each slot claim sets
 *                                  it), which a purge checks.
 * slots/&lt;slot4&gt;                    ephemeral; the slot claim (create fails if taken).
 * departed/&lt;slot4&gt;_&lt;incarnation16&gt; persistent; written in the same transaction that deletes
 *                                  the member znode of a graceful leave (so survivors can tell
 *                                  a departure from a death); removed by the slot's next joiner.
 * names/&lt;nodeName&gt;                persistent; data: the slot this node name last held, so a
 *                                  node that rejoins gets the same slot when it is free.
 * names/&lt;nodeName&gt;/member         ephemeral; data: the slot. Created in the slot claim, so a
 *                                  second node with a name that is already a member fails to
 *                                  join (the name is the node's identity); deleted on leave.
 * recovery/&lt;dead&gt;+&lt;member&gt;       persistent, both parts {@code <slot4>_<incarnation16>}: the member
 *                                  has returned from recover_prep for that death (the
 *                                  {@link RecoveryBarrier}); removed once the dead member's locks
 *                                  are gone.
 * res/&lt;resource&gt;                  persistent; empty data.
 * res/&lt;resource&gt;/L_...             one lock (see {@link LockEntry}), persistent
 * res/&lt;resource&gt;/V_...             the resource's value block (see {@link ValueBlockEntry})
 * </pre>
 *
 * <p>and, outside the watched subtree so that bumping it sends no notification,
 * {@code <root>/<cluster>/ver/<lockspace>/<resource>}: empty data whose version counts the
 * compare-and-set transactions on the resource (each one checks and bumps it, and writes the new
 * value into the names it creates, which is how watchers learn it).
 *
 * <p>Immutable and thread-safe.
 */
final class ZkLockPaths {
    static final String DEFAULT_ROOT = "/clustermd";
    private static final Pattern NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    private final String lockSpaceRoot;
    private final String versionRoot;

    ZkLockPaths(String root, String cluster, String lockSpace) {
        this.lockSpaceRoot = clusterRoot(root, cluster) + "/ls/" + checkName("lockspace", lockSpace);
        this.versionRoot = clusterRoot(root, cluster) + "/ver/" + lockSpace;
    }

    /** The directory of the version znodes (not watched). */
    String versions() {
        return versionRoot;
    }

    /** The version znode of a resource. */
    String version(String resource) {
        return versionRoot + "/" + resource;
    }

    static String clusterRoot(String root, String cluster) {
        if (!root.startsWith("/") || root.endsWith("/") || root.contains("//")) {
            throw new IllegalArgumentException("bad ZooKeeper root path '" + root + "'");
        }
        return root + "/" + checkName("cluster", cluster);
    }

    static String lockSpacesPath(String root, String cluster) {
        return clusterRoot(root, cluster) + "/ls";
    }

    /** Validates a cluster, lockspace, resource or node name: 1-128 of [A-Za-z0-9._-], not . or ... */
    static String checkName(String what, String name) {
        if (name == null || !NAME.matcher(name).matches() || name.equals(".") || name.equals("..")) {
            throw new IllegalArgumentException(
                    what + " name '" + name + "' must be 1-128 characters of [A-Za-z0-9._-]");
        }
        return name;
    }

    static void checkResourceName(String name) throws DlmException {
        try {
            checkName("resource", name);
        } catch (IllegalArgumentException e) {
            throw new DlmException(DlmException.Code.INVALID_REQUEST, e.getMessage());
        }
    }

    String root() {
        return lockSpaceRoot;
    }

    /** A child of the lockspace root (the layout's directories, or a stray znode a tool reports). */
    String rootChild(String name) {
        return lockSpaceRoot + "/" + name;
    }

    String members() {
        return lockSpaceRoot + "/members";
    }

    String slots() {
        return lockSpaceRoot + "/slots";
    }

    String departed() {
        return lockSpaceRoot + "/departed";
    }

    String recoveries() {
        return lockSpaceRoot + "/recovery";
    }

    /** The mark that {@code member} has returned from recover_prep for {@code dead}'s death. */
    String recoveryAck(int deadSlot, long deadIncarnation, int memberSlot, long memberIncarnation) {
        return recoveries() + "/" + recoveryAckName(deadSlot, deadIncarnation, memberSlot, memberIncarnation);
    }

    /** A recovery mark by its znode name ({@link #recoveryAckName}). */
    String recoveryAck(String name) {
        return recoveries() + "/" + name;
    }

    static String recoveryAckName(int deadSlot, long deadIncarnation, int memberSlot, long memberIncarnation) {
        return memberName(deadSlot, deadIncarnation) + "+" + memberName(memberSlot, memberIncarnation);
    }

    String names() {
        return lockSpaceRoot + "/names";
    }

    String resources() {
        return lockSpaceRoot + "/res";
    }

    String resource(String name) {
        return resources() + "/" + name;
    }

    /** A lock ({@code L_...}) or value block ({@code V_...}) znode under a resource's path. */
    static String entry(String resourcePath, String znode) {
        return resourcePath + "/" + znode;
    }

    /** A member znode by its name ({@code <slot4>_<incarnation16>}, see {@link #memberName}). */
    String member(String name) {
        return members() + "/" + name;
    }

    String member(int slot, long incarnation) {
        return members() + "/" + memberName(slot, incarnation);
    }

    static String memberName(int slot, long incarnation) {
        return String.format("%04d_%016x", slot, incarnation);
    }

    String slotClaim(int slot) {
        return slots() + "/" + String.format("%04d", slot);
    }

    String departure(int slot, long incarnation) {
        return departure(memberName(slot, incarnation));
    }

    /** A departure znode by its name (a member name). */
    String departure(String name) {
        return departed() + "/" + name;
    }

    String nodeName(String nodeName) {
        return names() + "/" + nodeName;
    }

    /** The ephemeral mark that {@code nodeName} is a member now. */
    String nodeNameMember(String nodeName) {
        return nodeName(nodeName) + "/member";
    }

    /** The parts of a path under this lockspace: kind and names; null if not ours. */
    Relative relativize(String path) {
        if (path == null || !path.startsWith(lockSpaceRoot)) {
            return null;
        }
        String rest = path.substring(lockSpaceRoot.length());
        if (rest.isEmpty()) {
            return new Relative(Kind.ROOT, null, null);
        }
        String[] parts = rest.substring(1).split("/", -1);
        Kind kind = switch (parts[0]) {
            case "members" -> Kind.MEMBER;
            case "departed" -> Kind.DEPARTED;
            case "slots" -> Kind.SLOT;
            case "names" -> Kind.NAME;
            case "recovery" -> Kind.RECOVERY;
            case "res" -> Kind.RESOURCE;
            default -> Kind.OTHER;
        };
        if (parts.length == 1) {
            return new Relative(kind, null, null);
        }
        if (kind == Kind.RESOURCE && parts.length == 3) {
            return new Relative(Kind.RESOURCE_CHILD, parts[1], parts[2]);
        }
        return parts.length == 2 ? new Relative(kind, parts[1], null) : new Relative(Kind.OTHER, null, null);
    }

    enum Kind {
        ROOT,
        MEMBER,
        DEPARTED,
        SLOT,
        NAME,
        RECOVERY,
        RESOURCE,
        RESOURCE_CHILD,
        OTHER
    }

    /**
     * A path relative to the lockspace root.
     *
     * @param kind which directory
     * @param name the child of that directory (member name, resource name...), or null for the
     *     directory itself
     * @param child for {@link Kind#RESOURCE_CHILD}, the lock or value block znode name
     */
    record Relative(Kind kind, String name, String child) {}
}
