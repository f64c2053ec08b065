package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.apache.zookeeper.Op;
import org.clustermd.dlm.zk.TablePlanner.Owner;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.junit.jupiter.api.Test;

/** The barrier's rules on their own: who must have marked a death, the join check, cleanup. */
class RecoveryBarrierRulesTest {
    private final ZkLockPaths paths = new ZkLockPaths("/clustermd", "c", "md0");
    private final RecoveryBarrier barrier = new RecoveryBarrier(paths);
    private static final Owner DEAD = new Owner(3, 0xd);
    private static final Owner A = new Owner(0, 0xa);
    private static final Owner B = new Owner(1, 0xb);

    private static Map<Integer, Long> members(Owner... live) {
        Map<Integer, Long> m = new TreeMap<>();
        for (Owner o : live) {
            m.put(o.slot(), o.incarnation());
        }
        return m;
    }

    private static String mark(Owner dead, Owner member) {
        return ZkLockPaths.recoveryAckName(dead.slot(), dead.incarnation(), member.slot(), member.incarnation());
    }

    @Test
    void aPurgeWaitsForAMarkFromEveryLiveMemberAndNotForTheDead() {
        barrier.ackCreated(mark(DEAD, A));
        assertThat(barrier.everyMemberPrepared(DEAD, members(A, B))).isFalse();
        // a mark for another death, or by a former incarnation of B's slot, does not count
        barrier.ackCreated(mark(new Owner(2, 0xe), B));
        barrier.ackCreated(mark(DEAD, new Owner(1, 0xbb)));
        assertThat(barrier.everyMemberPrepared(DEAD, members(A, B))).isFalse();
        // B died before marking: it drops out
        assertThat(barrier.everyMemberPrepared(DEAD, members(A))).isTrue();
        barrier.ackCreated(mark(DEAD, B));
        assertThat(barrier.everyMemberPrepared(DEAD, members(A, B))).isTrue();
        barrier.ackDeleted(mark(DEAD, B));
        assertThat(barrier.everyMemberPrepared(DEAD, members(A, B))).isFalse();
    }

    @Test
    void aPurgeChecksTheMembersVersionItsViewHad() {
        Plan purge = new Plan(List.of(Op.delete("/x", -1)), false, null, Map.of());
        barrier.membersRead(7);
        barrier.memberJoined();
        Plan guarded = barrier.guarded(purge);
        assertThat(guarded.ops()).hasSize(2);
        assertThat(guarded.ops().get(1)).isEqualTo(Op.check(paths.members(), 8));
        assertThat(barrier.guarded(new Plan(List.of(), false, null, Map.of())).isEmpty())
                .isTrue();
    }

    @Test
    void eachDeathIsMarkedOnceAfterRecoverPrepReturned() {
        assertThat(barrier.acksToWrite(Set.of(DEAD), Set.of(), A)).isEmpty();
        assertThat(barrier.acksToWrite(Set.of(DEAD), Set.of(DEAD.incarnation()), A))
                .containsExactly(DEAD);
        // in flight: not again
        assertThat(barrier.acksToWrite(Set.of(DEAD), Set.of(DEAD.incarnation()), A))
                .isEmpty();
        barrier.ackWritten(DEAD);
        barrier.ackCreated(mark(DEAD, A));
        assertThat(barrier.acksToWrite(Set.of(DEAD), Set.of(DEAD.incarnation()), A))
                .isEmpty();
        assertThat(barrier.ackPath(DEAD, A)).isEqualTo(paths.recoveries() + "/" + mark(DEAD, A));
    }

    @Test
    void marksGoOnlyOnceTheDeadMemberHoldsNoLock() {
        barrier.ackCreated(mark(DEAD, A));
        barrier.ackCreated(mark(DEAD, B));
        assertThat(barrier.cleanup(Set.of(DEAD), members(A, B))).isEmpty();
        List<Op> ops = barrier.cleanup(Set.of(), members(A, B));
        assertThat(ops)
                .containsExactlyInAnyOrder(
                        Op.delete(paths.recoveryAck(3, 0xd, 0, 0xa), -1),
                        Op.delete(paths.recoveryAck(3, 0xd, 1, 0xb), -1));
        // one cleanup at a time
        assertThat(barrier.cleanup(Set.of(), members(A, B))).isEmpty();
        barrier.cleaned();
        assertThat(barrier.cleanup(Set.of(), members(A, B))).hasSize(2);
    }

    @Test
    void foreignNamesInTheRecoveryDirectoryAreIgnored() {
        barrier.replaceAcks(List.of("junk", "0003_000000000000000d+", mark(DEAD, A)));
        assertThat(barrier.everyMemberPrepared(DEAD, members(A))).isTrue();
        assertThat(RecoveryBarrier.Ack.parse("0003_000000000000000d+0000_000000000000000a"))
                .isEqualTo(new RecoveryBarrier.Ack(DEAD, A));
    }
}
