package org.clustermd.dlm.zk;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.zk.LockEntry.LockKey;

/**
 * Which pending requests of a lock table can be granted, and which conversions are deadlocked:
 * a pure function of the table, the same on every node, so any writer that holds an exact view
 * computes the same answer (the grant argument in the package doc rests on this).
 *
 * <p>The rules are the Linux DLM's defaults:
 * <ul>
 *   <li>A queued conversion is granted when its mode is compatible with the granted mode of
 *       every other lock and every conversion queued before it has been granted: queued
 *       conversions are FIFO among themselves (the DLM's convert queue). A conversion that has
 *       not been queued yet is granted at once past them when its mode is compatible with every
 *       held mode, whatever else is grantable ({@link TablePlanner} does that).</li>
 *   <li>New requests are granted in strict FIFO order, and only once no conversion is waiting:
 *       a new request is granted when every conversion and every earlier new request has been
 *       granted and its mode is compatible with every granted mode. NL is always granted.</li>
 *   <li>A conversion deadlock is a cycle of waiting conversions each waiting for the next: blocked
 *       by its granted mode, or queued behind it. In each such cycle the most recent conversion
 *       (highest sequence) is the victim, to be cancelled with -EDEADLK. It keeps its granted
 *       mode, as in the DLM.</li>
 * </ul>
 *
 * <p>Stateless and thread-safe.
 */
final class GrantPolicy {
    private GrantPolicy() {}

    /**
     * The decision for a table.
     *
     * @param grants the locks to grant and their new modes, in the order they were decided
     * @param victims conversions to cancel as deadlocked
     */
    record Decision(Map<LockKey, LockMode> grants, List<LockEntry> victims) {
        boolean isEmpty() {
            return grants.isEmpty() && victims.isEmpty();
        }
    }

    static Decision evaluate(Collection<LockEntry> table) {
        Map<LockKey, LockMode> held = new HashMap<>();
        List<LockEntry> conversions = new ArrayList<>();
        List<LockEntry> requests = new ArrayList<>();
        for (LockEntry e : table) {
            if (e.granted() != null) {
                held.put(e.key(), e.granted());
            }
            if (e.isConversion()) {
                conversions.add(e);
            } else if (e.isNewRequest()) {
                requests.add(e);
            }
        }
        conversions.sort(LockEntry.QUEUE_ORDER);
        requests.sort(LockEntry.QUEUE_ORDER);

        Map<LockKey, LockMode> grants = new LinkedHashMap<>();
        for (LockEntry c : conversions) {
            if (!compatibleWithOthers(c.requested(), c.key(), held)) {
                break; // FIFO: everything queued behind it waits too
            }
            held.put(c.key(), c.requested());
            grants.put(c.key(), c.requested());
        }
        boolean blocked = grants.size() < conversions.size();
        for (LockEntry r : requests) {
            if (r.requested() == LockMode.NL) {
                held.put(r.key(), LockMode.NL);
                grants.put(r.key(), LockMode.NL);
            } else if (!blocked && compatibleWithOthers(r.requested(), r.key(), held)) {
                held.put(r.key(), r.requested());
                grants.put(r.key(), r.requested());
            } else {
                blocked = true;
            }
        }

        List<LockEntry> waiting = new ArrayList<>();
        for (LockEntry c : conversions) {
            if (!grants.containsKey(c.key())) {
                waiting.add(c);
            }
        }
        return new Decision(grants, deadlockVictims(waiting));
    }

    /** True if {@code mode} is compatible with the held mode of every lock except {@code self}. */
    static boolean compatibleWithOthers(LockMode mode, LockKey self, Map<LockKey, LockMode> held) {
        for (Map.Entry<LockKey, LockMode> h : held.entrySet()) {
            if (!h.getKey().equals(self) && !mode.isCompatibleWith(h.getValue())) {
                return false;
            }
        }
        return true;
    }

    /**
     * The victim of each strongly connected component (size >= 2) of the wait-for graph among
     * waiting conversions, where P waits for Q when P's requested mode conflicts with Q's granted
     * mode or Q is queued ahead of P. Either way P waits until Q is granted or cancelled, and Q is
     * a waiting conversion too: a cycle never resolves by itself.
     */
    private static List<LockEntry> deadlockVictims(List<LockEntry> waiting) {
        int n = waiting.size();
        if (n < 2) {
            return List.of();
        }
        List<List<Integer>> edges = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            List<Integer> out = new ArrayList<>();
            for (int j = 0; j < n; j++) {
                if (i != j
                        && (!waiting.get(i)
                                        .requested()
                                        .isCompatibleWith(waiting.get(j).granted())
                                || LockEntry.QUEUE_ORDER.compare(waiting.get(j), waiting.get(i)) < 0)) {
                    out.add(j);
                }
            }
            edges.add(out);
        }
        List<LockEntry> victims = new ArrayList<>();
        for (List<Integer> scc : new Tarjan(edges).components()) {
            if (scc.size() >= 2) {
                LockEntry victim = null;
                for (int i : scc) {
                    LockEntry e = waiting.get(i);
                    if (victim == null || e.seq() > victim.seq()) {
                        victim = e;
                    }
                }
                victims.add(victim);
            }
        }
        return victims;
    }

    /** Tarjan's strongly connected components, iterative enough for the tiny graphs here. */
    private static final class Tarjan {
        private final List<List<Integer>> edges;
        private final int[] index;
        private final int[] low;
        private final boolean[] onStack;
        private final Deque<Integer> stack = new ArrayDeque<>();
        private final List<List<Integer>> result = new ArrayList<>();
        private int counter;

        Tarjan(List<List<Integer>> edges) {
            this.edges = edges;
            int n = edges.size();
            index = new int[n];
            low = new int[n];
            onStack = new boolean[n];
            java.util.Arrays.fill(index, -1);
        }

        List<List<Integer>> components() {
            for (int v = 0; v < edges.size(); v++) {
                if (index[v] < 0) {
                    visit(v);
                }
            }
            return result;
        }

        private void visit(int v) {
            index[v] = low[v] = counter++;
            stack.push(v);
            onStack[v] = true;
            for (int w : edges.get(v)) {
                if (index[w] < 0) {
                    visit(w);
                    low[v] = Math.min(low[v], low[w]);
                } else if (onStack[w]) {
                    low[v] = Math.min(low[v], index[w]);
                }
            }
            if (low[v] == index[v]) {
                List<Integer> scc = new ArrayList<>();
                int w;
                do {
                    w = stack.pop();
                    onStack[w] = false;
                    scc.add(w);
                } while (w != v);
                result.add(scc);
            }
        }
    }
}
