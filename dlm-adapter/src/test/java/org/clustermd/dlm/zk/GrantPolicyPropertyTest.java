package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.stream.LongStream;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.zk.LockEntry.LockKey;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/** Seeded random lock tables against the grant rules; the random generator's seed is in every failure message. */
class GrantPolicyPropertyTest {
    static LongStream seeds() {
        return LongStream.range(0, 400);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void grantPassIsSafeFifoConversionsFirstAndMaximal(long seed) {
        Random rnd = new Random(seed);
        List<LockEntry> table = randomTable(rnd);
        GrantPolicy.Decision d = GrantPolicy.evaluate(table);
        String ctx = "seed " + seed + " table " + table + " decision " + d;

        Map<LockKey, LockMode> held = new HashMap<>();
        for (LockEntry e : table) {
            if (e.granted() != null) held.put(e.key(), e.granted());
        }
        for (Map.Entry<LockKey, LockMode> g : d.grants().entrySet()) {
            LockEntry e = find(table, g.getKey());
            assertThat(e.isPending()).as(ctx).isTrue();
            assertThat(g.getValue()).as(ctx).isEqualTo(e.requested());
            held.put(g.getKey(), g.getValue());
        }
        // safety: every pair of held modes is compatible after the pass
        List<Map.Entry<LockKey, LockMode>> hs = new ArrayList<>(held.entrySet());
        for (int i = 0; i < hs.size(); i++) {
            for (int j = i + 1; j < hs.size(); j++) {
                assertThat(hs.get(i).getValue().isCompatibleWith(hs.get(j).getValue()))
                        .as("incompatible %s and %s; %s", hs.get(i), hs.get(j), ctx)
                        .isTrue();
            }
        }
        List<LockEntry> conversions =
                table.stream().filter(LockEntry::isConversion).toList();
        List<LockEntry> requests =
                new ArrayList<>(table.stream().filter(LockEntry::isNewRequest).toList());
        requests.sort(LockEntry.QUEUE_ORDER);
        boolean conversionWaits = conversions.stream().anyMatch(c -> !d.grants().containsKey(c.key()));
        for (LockEntry r : requests) {
            if (d.grants().containsKey(r.key()) && r.requested() != LockMode.NL) {
                // conversions first
                assertThat(conversionWaits)
                        .as("new request granted while a conversion waits; " + ctx)
                        .isFalse();
                // FIFO: nothing ahead of it (other than NL) still waits
                for (LockEntry ahead : requests) {
                    if (ahead.seq() < r.seq() && ahead.requested() != LockMode.NL) {
                        assertThat(d.grants())
                                .as("FIFO: %s granted before %s; %s", r, ahead, ctx)
                                .containsKey(ahead.key());
                    }
                }
            }
        }
        // queued conversions are FIFO among themselves: none is granted while one ahead of it
        // waits, and the first waiting one (maximal) is blocked by some held mode
        List<LockEntry> queuedConversions = new ArrayList<>(conversions);
        queuedConversions.sort(LockEntry.QUEUE_ORDER);
        LockEntry firstWaiting = null;
        for (LockEntry c : queuedConversions) {
            if (!d.grants().containsKey(c.key())) {
                if (firstWaiting == null) {
                    firstWaiting = c;
                    assertThat(blocked(c, held))
                            .as("grantable conversion %s left waiting; %s", c, ctx)
                            .isTrue();
                }
            } else {
                assertThat(firstWaiting)
                        .as("FIFO: conversion %s granted past %s; %s", c, firstWaiting, ctx)
                        .isNull();
            }
        }
        // maximal: the first waiting new request is blocked by a conversion or a held mode
        if (!conversionWaits) {
            for (LockEntry r : requests) {
                if (!d.grants().containsKey(r.key())) {
                    assertThat(blocked(r, held))
                            .as("grantable request %s left waiting; %s", r, ctx)
                            .isTrue();
                    break;
                }
            }
        }
        // victims are waiting conversions on a cycle of waiting conversions
        Set<LockKey> waiting = new HashSet<>();
        for (LockEntry c : conversions) {
            if (!d.grants().containsKey(c.key())) waiting.add(c.key());
        }
        for (LockEntry v : d.victims()) {
            assertThat(waiting).as(ctx).contains(v.key());
            assertThat(onCycle(v, table, waiting))
                    .as("victim %s is not on a cycle; %s", v, ctx)
                    .isTrue();
        }
        // and every cycle has a victim
        for (LockEntry c : conversions) {
            if (waiting.contains(c.key()) && onCycle(c, table, waiting)) {
                assertThat(d.victims())
                        .as("deadlock through %s not reported; %s", c, ctx)
                        .isNotEmpty();
            }
        }
        // a pure function of the table, not of its order
        List<LockEntry> shuffled = new ArrayList<>(table);
        Collections.shuffle(shuffled, rnd);
        GrantPolicy.Decision d2 = GrantPolicy.evaluate(shuffled);
        assertThat(d2.grants()).as(ctx).isEqualTo(d.grants());
        assertThat(new HashSet<>(d2.victims())).as(ctx).isEqualTo(new HashSet<>(d.victims()));
    }

    private static boolean blocked(LockEntry e, Map<LockKey, LockMode> held) {
        for (Map.Entry<LockKey, LockMode> h : held.entrySet()) {
            if (!h.getKey().equals(e.key()) && !e.requested().isCompatibleWith(h.getValue())) return true;
        }
        return false;
    }

    private static boolean onCycle(LockEntry start, List<LockEntry> table, Set<LockKey> waiting) {
        Set<LockKey> seen = new HashSet<>();
        List<LockEntry> frontier = new ArrayList<>(List.of(start));
        while (!frontier.isEmpty()) {
            LockEntry p = frontier.remove(frontier.size() - 1);
            for (LockEntry q : table) {
                if (!waiting.contains(q.key()) || q.key().equals(p.key())) continue;
                if (waitsFor(p, q)) {
                    if (seen.add(q.key())) frontier.add(q);
                }
            }
            // edges back to start
            if (!p.key().equals(start.key()) && waitsFor(p, start)) return true;
        }
        return false;
    }

    /** P waits for Q (both waiting conversions): blocked by Q's granted mode, or queued behind Q. */
    private static boolean waitsFor(LockEntry p, LockEntry q) {
        return !p.requested().isCompatibleWith(q.granted()) || LockEntry.QUEUE_ORDER.compare(q, p) < 0;
    }

    private static LockEntry find(List<LockEntry> table, LockKey k) {
        return table.stream().filter(e -> e.key().equals(k)).findFirst().orElseThrow();
    }

    /** Random tables whose granted modes are pairwise compatible (the invariant going in). */
    static List<LockEntry> randomTable(Random rnd) {
        int n = 1 + rnd.nextInt(8);
        List<LockEntry> t = new ArrayList<>();
        LockMode[] modes = LockMode.values();
        List<Long> seqs = new ArrayList<>();
        for (long s = 0; s < n * 3L; s++) seqs.add(s);
        Collections.shuffle(seqs, rnd);
        for (int i = 0; i < n; i++) {
            LockMode g = rnd.nextInt(3) == 0 ? null : modes[rnd.nextInt(modes.length)];
            if (g != null) {
                for (LockEntry e : t) {
                    if (e.granted() != null && !g.isCompatibleWith(e.granted())) {
                        g = rnd.nextBoolean() ? LockMode.NL : LockMode.CR;
                        if (!g.isCompatibleWith(e.granted())) g = LockMode.NL;
                    }
                }
            }
            LockMode r = g == null || rnd.nextBoolean() ? modes[rnd.nextInt(modes.length)] : null;
            if (g != null && r != null && g.isDownConversionTo(r)) {
                r = null; // down-conversions never queue
            }
            if (g == null && r == null) r = LockMode.EX;
            t.add(new LockEntry(new LockKey(i % 4, 100 + i, i), g, r, 1, -1, seqs.get(i), "L" + i));
        }
        return t;
    }
}
