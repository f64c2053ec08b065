package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Set;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooDefs;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.zk.LockEntry.LockKey;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.junit.jupiter.api.Test;

class TablePlannerTest {
    private static final LockKey A = new LockKey(0, 0xa, 1);
    private static final LockKey B = new LockKey(1, 0xb, 1);
    private static final LockKey S = new LockKey(2, 0xc, 1);

    private static ResourceView view(String... children) {
        ResourceView v = new ResourceView("r", 64, 5);
        v.replace(List.of(children), 5);
        return v;
    }

    private static String name(LockKey k, LockMode g, LockMode r, long seq) {
        return LockEntry.prefix(k, g, r, 1, -1) + String.format("%010d", seq);
    }

    private static Plan plan(ResourceView v, TablePlanner.Intent intent) {
        return TablePlanner.plan(v, "/r", "/v/r", intent, null, ZooDefs.Ids.OPEN_ACL_UNSAFE);
    }

    @Test
    void uncontendedRequestIsOneCompareAndSetWithTheVersionBumpLast() {
        Plan p = plan(view(), new TablePlanner.Request(A, LockMode.EX));
        assertThat(p.cas()).isTrue();
        assertThat(p.ownGranted()).isTrue();
        assertThat(p.ops()).hasSize(2);
        assertThat(p.ops().get(0).getType()).isEqualTo(ZooDefs.OpCode.create);
        assertThat(p.ops().get(1)).isInstanceOf(Op.SetData.class);
        assertThat(p.ops().get(1).getPath()).isEqualTo("/v/r");
        assertThat(p.ops().get(0).getPath()).contains("_c6_"); // the version after this transaction
    }

    @Test
    void aRequestThatMustWaitIsAPlainCreate() {
        Plan p = plan(view(name(B, LockMode.EX, null, 1)), new TablePlanner.Request(A, LockMode.PR));
        assertThat(p.cas()).isFalse();
        assertThat(p.ownGranted()).isFalse();
        assertThat(p.ops()).hasSize(1);
    }

    @Test
    void unlockWithoutWaitersIsAPlainDelete() {
        Plan p = plan(view(name(A, LockMode.EX, null, 1)), new TablePlanner.Unlock(A));
        assertThat(p.cas()).isFalse();
        assertThat(p.ops()).hasSize(1);
        assertThat(p.ops().get(0).getType()).isEqualTo(ZooDefs.OpCode.delete);
    }

    @Test
    void unlockThatUnblocksAWaiterGrantsItInTheSameCompareAndSet() {
        Plan p = plan(view(name(A, LockMode.EX, null, 1), name(B, null, LockMode.PR, 2)), new TablePlanner.Unlock(A));
        assertThat(p.cas()).isTrue();
        assertThat(p.grants()).containsEntry(B, LockMode.PR);
        // creates, then deletes, then the version bump
        List<Integer> types = p.ops().stream().map(Op::getType).toList();
        assertThat(types)
                .containsExactly(
                        ZooDefs.OpCode.create, ZooDefs.OpCode.delete, ZooDefs.OpCode.delete, ZooDefs.OpCode.setData);
    }

    @Test
    void aQueuedConversionIsCompareAndSetSoEveryGranterSeesIt() {
        Plan p = plan(
                view(name(A, LockMode.PR, null, 1), name(B, LockMode.PR, null, 2)),
                new TablePlanner.Request(A, LockMode.EX));
        assertThat(p.ownGranted()).isFalse();
        assertThat(p.cas()).isTrue();
    }

    @Test
    void downConversionWithoutWaitersIsPlain() {
        Plan p = plan(view(name(A, LockMode.EX, null, 1)), new TablePlanner.Request(A, LockMode.CR));
        assertThat(p.cas()).isFalse();
        assertThat(p.ownGranted()).isTrue();
    }

    @Test
    void purgeOfADeadWriteHolderInvalidatesTheValueBlock() {
        Plan p = plan(
                view(name(A, LockMode.PW, null, 1), name(B, null, LockMode.PW, 2)),
                new TablePlanner.Purge(Set.of(new TablePlanner.Owner(0, 0xa)), true));
        assertThat(p.grants()).containsEntry(B, LockMode.PW);
        assertThat(p.ops()).anySatisfy(o -> assertThat(o.getPath()).startsWith("/r/V_n"));
    }

    /**
     * docs/lessons.md §54: md's receiver asks message CR to PR while the sender's next NL to EX is
     * already queued, behind another receiver's PR that nobody has granted yet. Queued behind the
     * EX, the receiver's PR would wait for the EX, which waits for the receiver's CR: a conversion
     * deadlock, and the receiver's PR cancelled. The DLM grants a fresh conversion compatible with
     * every held mode at once, and so does the planner, alone.
     */
    @Test
    void aFreshConversionCompatibleWithEveryHeldModeIsGrantedAtOnceEvenWhenAnotherWaiterIsGrantable() {
        ResourceView v = view(
                name(B, LockMode.CR, LockMode.PR, 1),
                name(S, LockMode.NL, LockMode.EX, 2),
                name(A, LockMode.CR, null, 3));
        assertThat(GrantPolicy.evaluate(v.entries()).grants()).containsOnlyKeys(B);

        Plan p = plan(v, new TablePlanner.Request(A, LockMode.PR));

        assertThat(p.ownGranted()).isTrue();
        assertThat(p.grants()).containsExactly(java.util.Map.entry(A, LockMode.PR));
        assertThat(p.cas()).isTrue();
        assertThat(p.ops().get(p.ops().size() - 1).getPath()).isEqualTo("/v/r");
    }

    @Test
    void aFreshConversionThatConflictsWithAHeldModeIsQueuedNotGranted() {
        for (LockMode held : LockMode.values()) {
            ResourceView v = view(name(B, held, null, 1), name(A, LockMode.CR, null, 2));
            Plan p = plan(v, new TablePlanner.Request(A, LockMode.PR));
            assertThat(p.ownGranted())
                    .as("CR -> PR next to a granted " + held)
                    .isEqualTo(LockMode.PR.isCompatibleWith(held));
            assertThat(p.cas())
                    .as("a grant or a queued conversion is compare-and-set")
                    .isTrue();
            assertThat(p.grants().keySet()).as("a request grants nobody else").isSubsetOf(Set.of(A));
        }
    }

    @Test
    void plainChangesNeverAddAnythingHeld() {
        LockMode[] m = LockMode.values();
        for (LockMode from : m) {
            for (LockMode to : m) {
                TablePlanner.Row old = new TablePlanner.Row(A, from, null, 1, 1, "x");
                TablePlanner.Row neu = new TablePlanner.Row(A, to, null, 2, 1, null);
                if (TablePlanner.plainSafe(old, neu)) {
                    for (LockMode other : m) {
                        // whatever was compatible with the old mode stays compatible
                        if (from.isCompatibleWith(other)) {
                            assertThat(to.isCompatibleWith(other))
                                    .as(from + "->" + to + " vs " + other)
                                    .isTrue();
                        }
                    }
                }
            }
        }
    }
}
