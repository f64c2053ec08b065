package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.LockEntry.LockKey;

/**
 * Turns one writer's intent (a request, cancel, unlock, purge, or just "grant what can be
 * granted") into one ZooKeeper transaction: it applies the intent to the writer's view, runs
 * the {@link GrantPolicy} grant pass on the result, and diffs old against new.
 *
 * <p>The transaction is a <em>compare-and-set</em> (its last operation sets the resource's version
 * znode at the version the writer saw, and every name it creates carries the new version) whenever
 * it grants anything or queues a conversion; otherwise it
 * is <em>plain</em>. Plain transactions only ever make the table less restrictive for others:
 * they delete locks, add a new request that holds nothing, add NL, convert a lock down, withdraw
 * a conversion, or replace the value block. Operations are ordered lock creates, the value block's
 * create, deletes, then the version bump, so an observer between two events of one transaction
 * sees either an unsettled view (a rename shows both names) or a state at least as restrictive as
 * the committed one. Every compare-and-set transaction creates at least one lock name (a grant or
 * a queued conversion is a rename or a new name), so the new version always reaches watchers.
 *
 * <p>Stateless and thread-safe.
 */
final class TablePlanner {
    private TablePlanner() {}

    /** What the writer wants before the grant pass. */
    sealed interface Intent permits Request, Cancel, Unlock, Republish, Purge, GrantPending {}

    /** Request {@code mode}: a new request if {@code key} has no lock, else a conversion. */
    record Request(LockKey key, LockMode mode) implements Intent {}

    /** Withdraw {@code key}'s pending request (a conversion keeps its granted mode). */
    record Cancel(LockKey key) implements Intent {}

    /** Release {@code key}'s lock. */
    record Unlock(LockKey key) implements Intent {}

    /** Re-grant {@code key}'s PW/EX in place to publish the LVB (PW to PW). */
    record Republish(LockKey key) implements Intent {}

    /**
     * Remove every lock of the given owners (slot and incarnation). With {@code invalidate}, the
     * value block becomes not-valid if a removed lock held PW or EX (the owner died).
     */
    record Purge(Set<Owner> owners, boolean invalidate) implements Intent {}

    /** Only grant what the table allows (the elected writer's pass). */
    record GrantPending() implements Intent {}

    /** A lockspace member incarnation. */
    record Owner(int slot, long incarnation) {}

    /**
     * The transaction to submit.
     *
     * @param ops ZooKeeper operations, empty when nothing changes
     * @param cas whether it is a compare-and-set transaction
     * @param own the writer's lock after the transaction (hypothetical; null if removed)
     * @param grants locks this transaction grants, with their new modes
     */
    record Plan(List<Op> ops, boolean cas, Row own, Map<LockKey, LockMode> grants) {
        boolean isEmpty() {
            return ops.isEmpty();
        }

        /** True if the writer's own request is granted by this transaction. */
        boolean ownGranted() {
            return own != null && own.requested() == null;
        }
    }

    /** A lock in the planned table; {@code znode} is null for locks this plan creates. */
    record Row(LockKey key, LockMode granted, LockMode requested, long gen, long seq, String znode) {
        LockEntry asEntry() {
            return new LockEntry(key, granted, requested, gen, -1, seq, znode);
        }
    }

    static Plan plan(
            ResourceView view,
            String resourcePath,
            String versionPath,
            Intent intent,
            LockValueBlock newValueBlock,
            List<ACL> acl) {
        Map<LockKey, Row> before = new LinkedHashMap<>();
        for (LockEntry e : view.entries()) {
            before.put(e.key(), new Row(e.key(), e.granted(), e.requested(), e.gen(), e.seq(), e.znode()));
        }
        Map<LockKey, Row> after = new LinkedHashMap<>(before);
        LockKey ownKey = null;
        LockValueBlock lvb = newValueBlock;

        if (intent instanceof Request r) {
            ownKey = r.key();
            Row cur = after.get(ownKey);
            if (cur == null) {
                after.put(ownKey, new Row(ownKey, null, r.mode(), 0, Long.MAX_VALUE, null));
            } else if (cur.requested() != null) {
                throw new IllegalStateException("request on a lock with a pending request: " + cur);
            } else if (cur.granted().isDownConversionTo(r.mode())) {
                after.put(ownKey, new Row(ownKey, r.mode(), null, cur.gen() + 1, cur.seq(), null));
            } else {
                after.put(ownKey, new Row(ownKey, cur.granted(), r.mode(), cur.gen() + 1, Long.MAX_VALUE, null));
            }
        } else if (intent instanceof Cancel c) {
            ownKey = c.key();
            Row cur = after.get(ownKey);
            if (cur != null && cur.requested() != null) {
                if (cur.granted() == null) {
                    after.remove(ownKey);
                } else {
                    after.put(ownKey, new Row(ownKey, cur.granted(), null, cur.gen() + 1, cur.seq(), null));
                }
            }
        } else if (intent instanceof Unlock u) {
            ownKey = u.key();
            after.remove(ownKey);
        } else if (intent instanceof Republish rp) {
            ownKey = rp.key();
            Row cur = after.get(ownKey);
            if (cur != null) {
                after.put(ownKey, new Row(ownKey, cur.granted(), cur.requested(), cur.gen() + 1, cur.seq(), null));
            }
        } else if (intent instanceof Purge pg) {
            boolean heldWrite = false;
            for (Row row : before.values()) {
                if (pg.owners().contains(new Owner(row.key().slot(), row.key().incarnation()))) {
                    after.remove(row.key());
                    heldWrite |= row.granted() != null && row.granted().isWriteMode();
                }
            }
            if (pg.invalidate() && heldWrite && lvb == null) {
                lvb = view.valueBlock().invalidated();
            }
        }

        List<LockEntry> table = new ArrayList<>();
        for (Row row : after.values()) {
            table.add(row.asEntry());
        }
        Map<LockKey, LockMode> grants = GrantPolicy.evaluate(table).grants();
        if (intent instanceof Request
                && isFreshConversion(after.get(ownKey))
                && GrantPolicy.compatibleWithOthers(after.get(ownKey).requested(), ownKey, heldModes(after))) {
            // Queued conversions are FIFO among themselves, but one not queued yet is granted at
            // once when the held modes allow it (the DLM's "now" rule), alone, whether or not
            // others are grantable too (their granter grants them): queueing it behind a waiting
            // conversion it does not conflict with would only add deadlocks the DLM does not have
            // (docs/lessons.md §54).
            grants = Map.of(ownKey, after.get(ownKey).requested());
        } else if (intent instanceof Request
                && !isDownConversion(before.get(ownKey), after.get(ownKey))
                && !(grants.size() == 1 && grants.containsKey(ownKey))
                && !grants.isEmpty()) {
            // A request never grants others: if someone else is grantable, the owner of the first
            // grantable request (or the releaser) grants them all, ours included if it fits.
            // Granting here too would only race that writer; granting ourselves alone could pass
            // a waiter ahead of us.
            grants = Map.of();
        }
        for (Map.Entry<LockKey, LockMode> g : grants.entrySet()) {
            Row row = after.get(g.getKey());
            after.put(g.getKey(), new Row(row.key(), g.getValue(), null, row.gen() + 1, row.seq(), null));
        }

        // diff: which rows change, and may the change go without compare-and-set?
        List<Row> creates = new ArrayList<>();
        List<String> deletes = new ArrayList<>();
        // granting NL cannot hurt anyone; every other grant needs the version check (a loop, not
        // a stream: this runs for every request, and the pipeline cost more than the test)
        boolean cas = false;
        for (LockMode m : grants.values()) {
            cas |= m != LockMode.NL;
        }
        Map<LockKey, Row> all = new HashMap<>(before);
        all.putAll(after);
        for (LockKey k : all.keySet()) {
            Row old = before.get(k);
            Row neu = after.get(k);
            if (neu != null && neu.znode() != null) {
                continue; // unchanged
            }
            if (neu != null) {
                creates.add(neu);
            }
            if (old != null) {
                deletes.add(old.znode());
            }
            if (!plainSafe(old, neu)) {
                cas = true;
            }
        }

        if (cas && view.version() >= Integer.MAX_VALUE - 1) {
            // ZooKeeper's int versions wrap, and -1 means "any": refuse rather than lose the check
            throw new IllegalStateException(
                    "resource " + resourcePath + " has used up its 2^31 versions;" + " recreate the lockspace");
        }
        int casVersion = cas ? view.version() + 1 : -1;
        List<Op> ops = new ArrayList<>();
        ValueBlockEntry oldLvb = view.valueBlockEntry();
        boolean lvbChanges = lvb != null
                && (oldLvb == null ? !lvb.equals(LockValueBlock.zeros(lvb.size())) : !lvb.equals(oldLvb.valueBlock()));
        if (creates.isEmpty() && deletes.isEmpty() && !lvbChanges) {
            return new Plan(List.of(), false, after.get(ownKey), grants);
        }
        for (Row row : creates) {
            ops.add(Op.create(
                    ZkLockPaths.entry(
                            resourcePath,
                            LockEntry.prefix(row.key(), row.granted(), row.requested(), row.gen(), casVersion)),
                    new byte[0],
                    acl,
                    CreateMode.PERSISTENT_SEQUENTIAL));
        }
        if (lvbChanges) {
            ops.add(Op.create(
                    ZkLockPaths.entry(resourcePath, ValueBlockEntry.prefix(lvb)),
                    new byte[0],
                    acl,
                    CreateMode.PERSISTENT_SEQUENTIAL));
        }
        for (String znode : deletes) {
            ops.add(Op.delete(ZkLockPaths.entry(resourcePath, znode), -1));
        }
        if (lvbChanges && oldLvb != null) {
            ops.add(Op.delete(ZkLockPaths.entry(resourcePath, oldLvb.znode()), -1));
        }
        if (cas) {
            ops.add(Op.setData(versionPath, new byte[0], view.version()));
        }
        return new Plan(ops, cas, after.get(ownKey), grants);
    }

    private static boolean isFreshConversion(Row own) {
        return own != null && own.granted() != null && own.requested() != null && own.znode() == null;
    }

    private static Map<LockKey, LockMode> heldModes(Map<LockKey, Row> rows) {
        Map<LockKey, LockMode> held = new HashMap<>();
        for (Row r : rows.values()) {
            if (r.granted() != null) {
                held.put(r.key(), r.granted());
            }
        }
        return held;
    }

    private static boolean isDownConversion(Row old, Row neu) {
        return old != null
                && neu != null
                && old.granted() != null
                && neu.requested() == null
                && neu.granted() != null
                && old.granted().isDownConversionTo(neu.granted());
    }

    /**
     * True if replacing {@code old} by {@code neu} can never let anyone else be granted something
     * incompatible, whatever stale view they decided on: the change only removes or weakens what
     * is held, or adds a request that holds nothing (behind everything already queued).
     */
    static boolean plainSafe(Row old, Row neu) {
        if (neu == null) {
            return true; // delete
        }
        if (neu.granted() == null) {
            return old == null; // a new request that holds nothing
        }
        if (neu.requested() != null) {
            return false; // a queued conversion must be seen by every granter (conversions first)
        }
        if (neu.granted() == LockMode.NL) {
            return true;
        }
        return old != null && old.granted() != null && old.granted().isDownConversionTo(neu.granted());
    }
}
