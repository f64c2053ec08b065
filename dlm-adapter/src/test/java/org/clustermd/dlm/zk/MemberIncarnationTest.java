package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Member incarnations (docs/md-cluster-protocol.md §d.3): a slot's next member has another
 * incarnation than the one before it, recover_slot names the dead one's, and {@code memberIn}
 * reports whoever is in the slot now, so a recovery queued for one life of a slot can tell the
 * same member still leaving from a new one.
 */
class MemberIncarnationTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(30));
    private TestingServer server;
    private ZkTestSupport nodes;

    @BeforeEach
    void start() throws Exception {
        server = new TestingServer();
        nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(4));
    }

    @AfterEach
    void stop() throws Exception {
        nodes.close();
        server.close();
    }

    private static final class Lost implements LockSpaceListener {
        final List<MemberId> dead = new CopyOnWriteArrayList<>();

        @Override
        public void memberLost(MemberId m) {
            dead.add(m);
        }
    }

    private LockSpace join(ZkLockManager m, LockSpaceListener l) throws Exception {
        return m.join("md0", LockSpaceOptions.of(3).withListener(l).withRequestTimeout(WAIT));
    }

    @Test
    void aSlotsNextMemberHasANewIncarnationAndRecoverSlotNamesTheDeadOne() throws Exception {
        Lost lost = new Lost();
        LockSpace a = join(nodes.manager("a"), lost);
        ZkLockManager bm = nodes.manager("b");
        LockSpace b = join(bm, new Lost());
        MemberId first = b.self();
        await().atMost(WAIT).until(() -> a.memberIn(first.slot()).isPresent());
        assertThat(a.memberIn(first.slot())).contains(first);
        assertThat(a.memberIn(new NodeSlot(2))).isEmpty();

        ZkTestSupport.expire(bm, nodes.connectString);

        await().atMost(WAIT).until(() -> lost.dead.size() == 1);
        assertThat(lost.dead).containsExactly(first);
        await().atMost(WAIT).until(() -> a.memberIn(first.slot()).isEmpty());

        // the same node name comes back: its old slot, another life
        LockSpace again = join(nodes.manager("b"), new Lost());
        MemberId second = again.self();
        assertThat(second.slot()).isEqualTo(first.slot());
        assertThat(second.incarnation()).isNotEqualTo(first.incarnation());
        assertThat(second).isNotEqualTo(first);
        await().atMost(WAIT).until(() -> a.memberIn(first.slot()).equals(Optional.of(second)));

        // a graceful leave is no death: nothing more is reported lost
        again.close();
        await().atMost(WAIT).until(() -> a.memberIn(first.slot()).isEmpty());
        assertThat(lost.dead).containsExactly(first);
        a.close();
    }
}
