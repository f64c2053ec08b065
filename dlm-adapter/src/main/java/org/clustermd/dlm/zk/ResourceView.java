package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.LockEntry.LockKey;

/**
 * This node's replica of one resource's lock table, kept exact by applying the lockspace's watch
 * events in order (and replaced wholesale by a read after a reconnect). Holds the locks, the
 * value block, and the resource's version: the data version of its (unwatched) version znode,
 * which every compare-and-set transaction bumps and writes into the names it creates.
 *
 * <p>A view can be momentarily <em>unsettled</em> between the events of one transaction (a
 * rename shows the new name before the old one is deleted; a value block replacement shows two
 * value blocks): decisions are taken only on settled views. Every transaction creates before it
 * deletes, so every intermediate state holds at least the locks of the final state and is never
 * less restrictive than it.
 *
 * <p>Not thread-safe: owned by its {@link ZkLockSpace} and used under its lock.
 */
final class ResourceView {
    private final String name;
    private final int lvbSize;
    private final Map<String, LockEntry> locks = new HashMap<>();
    private final TreeMap<Long, ValueBlockEntry> valueBlocks = new TreeMap<>();
    private final Map<String, Long> createdZxid = new HashMap<>();
    private final Set<String> foreign = new HashSet<>();
    private int version;

    ResourceView(String name, int lvbSize, int version) {
        this.name = name;
        this.lvbSize = lvbSize;
        this.version = version;
    }

    String name() {
        return name;
    }

    int version() {
        return version;
    }

    void childCreated(String child, long zxid) {
        if (child.startsWith(LockEntry.PREFIX)) {
            try {
                LockEntry e = LockEntry.parse(child);
                locks.put(child, e);
                createdZxid.put(child, zxid);
                if (e.casVersion() >= 0 && zxid != 0) {
                    // events arrive in transaction order: the last one's version is current
                    version = e.casVersion();
                }
                return;
            } catch (IllegalArgumentException ex) {
                foreign.add(child);
                return;
            }
        }
        if (child.startsWith(ValueBlockEntry.PREFIX)) {
            try {
                ValueBlockEntry v = ValueBlockEntry.parse(child, lvbSize);
                valueBlocks.put(v.seq(), v);
                return;
            } catch (IllegalArgumentException ex) {
                foreign.add(child);
                return;
            }
        }
        foreign.add(child);
    }

    void childDeleted(String child) {
        if (locks.remove(child) != null) {
            createdZxid.remove(child);
            return;
        }
        if (!foreign.remove(child) && child.startsWith(ValueBlockEntry.PREFIX)) {
            valueBlocks.values().removeIf(v -> v.znode().equals(child));
        }
    }

    /** Replaces everything with an atomic read of the children and the version znode. */
    void replace(List<String> children, int newVersion) {
        locks.clear();
        valueBlocks.clear();
        createdZxid.clear();
        foreign.clear();
        for (String c : children) {
            childCreated(c, 0);
        }
        createdZxid.clear();
        version = newVersion;
    }

    /**
     * True when no transaction is half applied: each lock appears once and there is at most one
     * value block.
     */
    boolean settled() {
        if (valueBlocks.size() > 1) {
            return false;
        }
        Set<LockKey> keys = new HashSet<>();
        for (LockEntry e : locks.values()) {
            if (!keys.add(e.key())) {
                return false;
            }
        }
        return true;
    }

    /** The first child that is neither a lock nor a value block of ours, or null. */
    String foreignChild() {
        return foreign.isEmpty() ? null : foreign.iterator().next();
    }

    Collection<LockEntry> entries() {
        return locks.values();
    }

    LockEntry find(LockKey key) {
        for (LockEntry e : locks.values()) {
            if (e.key().equals(key)) {
                return e;
            }
        }
        return null;
    }

    List<LockEntry> ownedBy(int slot, long incarnation) {
        List<LockEntry> out = new ArrayList<>();
        for (LockEntry e : locks.values()) {
            if (e.key().slot() == slot && e.key().incarnation() == incarnation) {
                out.add(e);
            }
        }
        return out;
    }

    /** The zxid of the transaction that created {@code znode}, or 0 if it came from a read. */
    long createdZxid(String znode) {
        return createdZxid.getOrDefault(znode, 0L);
    }

    /** The newest value block entry, or null if the resource never had one written. */
    ValueBlockEntry valueBlockEntry() {
        return valueBlocks.isEmpty() ? null : valueBlocks.lastEntry().getValue();
    }

    /** The resource's LVB: the newest written one, or zeros. */
    LockValueBlock valueBlock() {
        ValueBlockEntry v = valueBlockEntry();
        return v == null ? LockValueBlock.zeros(lvbSize) : v.valueBlock();
    }
}
