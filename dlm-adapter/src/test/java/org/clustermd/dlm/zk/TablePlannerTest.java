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
