package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.MemberId;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** What survivors see when a member's session expires (the DLM's recover_prep/slot/done). */
class MemberRecoveryTest {
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

    /** Records callbacks and grants in the order the member sees them. */
    static final class Recorder implements LockSpaceListener {
        final List<String> events = new CopyOnWriteArrayList<>();

        @Override
        public void recoveryStarted() {
            events.add("prep");
        }

        @Override
        public void memberLost(NodeSlot slot) {
            events.add("lost" + slot.number());
        }

        @Override
        public void memberLeft(MemberId gone) {
            events.add("left" + gone.slot().number());
        }

        @Override
        public void recoveryFinished(NodeSlot ours, Set<NodeSlot> members) {
            events.add("done"
                    + members.stream()
                            .map(s -> Integer.toString(s.number()))
                            .sorted()
                            .toList());
        }

        @Override
        public void stateChanged(LockSpaceState s) {
            events.add("state:" + s);
        }
    }

    private LockSpace join(ZkLockManager m, Recorder r) throws DlmException {
        return m.join("md0", LockSpaceOptions.of(4).withListener(r).withRequestTimeout(WAIT));
    }

    @Test
    void survivorsGetPrepThenSlotThenDoneAndTheDeadNodesLocksOnlyAfterPrep() throws Exception {
        Recorder ra = new Recorder();
        Recorder rb = new Recorder();
        LockSpace a = join(nodes.manager("a"), ra);
        LockSpace b = join(nodes.manager("b"), rb);
        ZkLockManager cm = nodes.manager("c");
        LockSpace c = join(cm, new Recorder());
        assertThat(c.slot()).isEqualTo(new NodeSlot(2));
        // c owns its bitmap lock in PW and publishes a value, like md-cluster
        LockResource cBitmap = c.resource(c.slot().bitmapLockName());
        cBitmap.convert(LockMode.PW);
        byte[] v = new byte[64];
        v[0] = 5;
        cBitmap.setValueBlock(LockValueBlock.of(v));
        cBitmap.convert(LockMode.PW);
        // a waits for c's bitmap lock (md's recovery thread)
        LockResource aWait = a.resource(c.slot().bitmapLockName());
        CompletableFuture<LockGrant> grant = aWait.convertAsync(LockMode.PW);
        grant.thenRun(() -> ra.events.add("granted"));
        await().atMost(WAIT).until(() -> ra.events.contains("done[0, 1, 2]") && rb.events.contains("done[0, 1, 2]"));
        ra.events.clear();
        rb.events.clear();

        ZkTestSupport.expire(cm, nodes.connectString);

        LockGrant g = grant.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
        await().atMost(WAIT).until(() -> ra.events.contains("done[0, 1]") && rb.events.contains("done[0, 1]"));
        assertThat(ra.events).containsExactly("prep", "lost2", "granted", "done[0, 1]");
        assertThat(rb.events).containsExactly("prep", "lost2", "done[0, 1]");
        // the dead PW holder never wrote its value back down: not valid, bytes as last published
        assertThat(g.valueBlock().isValid()).isFalse();
        assertThat(g.valueBlock().toByteArray()[0]).isEqualTo((byte) 5);
        // the next PW holder's write makes it valid again
        aWait.setValueBlock(LockValueBlock.zeros(64));
        aWait.convert(LockMode.CR);
        assertThat(b.resource(c.slot().bitmapLockName())
                        .convert(LockMode.CR)
                        .valueBlock()
                        .isValid())
                .isTrue();
    }

    /** A graceful leave is no death: survivors are told who left, and no recover_slot comes. */
    @Test
    void survivorsAreToldOfAGracefulLeaveWithoutARecoverSlot() throws Exception {
        Recorder ra = new Recorder();
        LockSpace a = join(nodes.manager("a"), ra);
        LockSpace b = join(nodes.manager("b"), new Recorder());
        await().atMost(WAIT).until(() -> ra.events.contains("done[0, 1]"));
        ra.events.clear();

        b.close();

        await().atMost(WAIT).until(() -> ra.events.contains("done[0]"));
        assertThat(ra.events).containsExactly("prep", "left1", "done[0]");
        assertThat(a.members()).containsExactly(new NodeSlot(0));
    }

    /**
     * The Linux DLM copies a PW/EX holder's LVB into the resource on down-conversion or unlock and
     * clears VALNOTVALID, whether or not the holder changed the value.
     */
    @Test
    void aPwHolderThatNeverSetTheValueBlockMakesItValidAgainOnDownConversionAndOnUnlock() throws Exception {
        LockSpace a = join(nodes.manager("a"), new Recorder());
        LockSpace b = join(nodes.manager("b"), new Recorder());
        ZkLockManager cm = nodes.manager("c");
        LockSpace c = join(cm, new Recorder());
        byte[] v = new byte[64];
        for (String name : List.of("down", "unlock")) {
            LockResource r = c.resource(name);
            r.convert(LockMode.PW);
            v[0] = (byte) name.length();
            r.setValueBlock(LockValueBlock.of(v));
            r.convert(LockMode.PW);
        }
        ZkTestSupport.expire(cm, nodes.connectString);

        LockResource down = a.resource("down");
        assertThat(down.convert(LockMode.PW).valueBlock().isValid()).isFalse();
        down.convert(LockMode.CR);
        LockResource unlock = b.resource("unlock");
        assertThat(unlock.convert(LockMode.PW).valueBlock().isValid()).isFalse();
        unlock.unlock();

        LockValueBlock afterDown = b.resource("down").convert(LockMode.CR).valueBlock();
        assertThat(afterDown.isValid())
                .as("LVB after a PW holder's down-conversion")
                .isTrue();
        assertThat(afterDown.toByteArray()[0]).isEqualTo((byte) 4);
        LockValueBlock afterUnlock = a.resource("unlock").convert(LockMode.CR).valueBlock();
        assertThat(afterUnlock.isValid()).as("LVB after a PW holder's unlock").isTrue();
        assertThat(afterUnlock.toByteArray()[0]).isEqualTo((byte) 6);
    }

    @Test
    void lostSessionInvalidatesEveryLockAndFailsPendingRequests() throws Exception {
        Recorder ra = new Recorder();
        LockSpace a = join(nodes.manager("a"), new Recorder());
        ZkLockManager bm = nodes.manager("b");
        LockSpace b = join(bm, ra);
        LockResource held = b.resource("held");
        held.convert(LockMode.EX);
        a.resource("busy").convert(LockMode.EX);
        CompletableFuture<LockGrant> pending = b.resource("busy").convertAsync(LockMode.EX);

        ZkTestSupport.expire(bm, nodes.connectString);

        await().atMost(WAIT).until(() -> b.state() == LockSpaceState.LOST);
        assertThat(ra.events).contains("state:LOST");
        assertThat(ra.events.indexOf("state:SUSPENDED")).isLessThan(ra.events.indexOf("state:LOST"));
        assertThatThrownBy(() -> pending.get(WAIT.toMillis(), TimeUnit.MILLISECONDS))
                .cause()
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.LOCKSPACE_LOST));
        await().atMost(WAIT).until(() -> held.grantedMode().isEmpty());
        assertThatThrownBy(() -> held.convert(LockMode.EX))
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.LOCKSPACE_LOST));
        // the survivor gets the lost node's lock
        assertThat(a.resource("held").convert(LockMode.EX).mode()).isEqualTo(LockMode.EX);
    }

    @Test
    void slotsStayStableAndARejoiningNodeGetsItsSlotBack() throws Exception {
        LockSpace a = join(nodes.manager("a"), new Recorder());
        ZkLockManager bm = nodes.manager("b");
        LockSpace b = join(bm, new Recorder());
        LockSpace c = join(nodes.manager("c"), new Recorder());
        assertThat(List.of(a.slot(), b.slot(), c.slot()))
                .containsExactly(new NodeSlot(0), new NodeSlot(1), new NodeSlot(2));
        ZkTestSupport.expire(bm, nodes.connectString);
        await().atMost(WAIT).until(() -> a.members().size() == 2);
        assertThat(a.slot()).isEqualTo(new NodeSlot(0));
        assertThat(c.slot()).isEqualTo(new NodeSlot(2));
        LockSpace b2 = join(nodes.manager("b"), new Recorder());
        assertThat(b2.slot()).isEqualTo(new NodeSlot(1));
        // a newcomer takes the lowest free slot, and the fifth member finds none
        LockSpace d = join(nodes.manager("d"), new Recorder());
        assertThat(d.slot()).isEqualTo(new NodeSlot(3));
        assertThatThrownBy(() -> join(nodes.manager("e"), new Recorder()))
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.SLOTS_EXHAUSTED));
    }

    /** The node name is the node's identity: one member per name, and a restart keeps its slot. */
    @Test
    void aSecondNodeWithTheSameNameIsRefusedWhileTheFirstIsAMember() throws Exception {
        LockSpace other = join(nodes.manager("other"), new Recorder());
        ZkLockManager first = nodes.manager("a");
        LockSpace a = join(first, new Recorder());
        assertThat(a.slot()).isEqualTo(new NodeSlot(1));
        assertThatThrownBy(() -> join(nodes.manager("a"), new Recorder()))
                .isInstanceOfSatisfying(DlmException.class, e -> {
                    assertThat(e.code()).isEqualTo(DlmException.Code.NODE_NAME_IN_USE);
                    assertThat(e.getMessage()).contains("'a'").contains("slot1");
                });
        assertThat(other.members()).containsExactlyInAnyOrder(new NodeSlot(0), new NodeSlot(1));

        // after the first died, its restart is welcome, in its old slot
        ZkTestSupport.expire(first, nodes.connectString);
        await().atMost(WAIT).until(() -> other.members().size() == 1);
        LockSpace restarted = join(nodes.manager("a"), new Recorder());
        assertThat(restarted.slot()).isEqualTo(new NodeSlot(1));
        // and after it left gracefully too
        restarted.close();
        assertThat(join(nodes.manager("a"), new Recorder()).slot()).isEqualTo(new NodeSlot(1));
    }

    @Test
    void locksOfNodesThatDiedBeforeAnyoneWasThereArePurgedByTheNextJoiner() throws Exception {
        ZkLockManager am = nodes.manager("a");
        LockSpace a = join(am, new Recorder());
        a.resource("resync").convert(LockMode.EX);
        ZkTestSupport.expire(am, nodes.connectString);
        await().atMost(WAIT).until(() -> a.state() == LockSpaceState.LOST);
        LockSpace b = join(nodes.manager("b"), new Recorder());
        assertThat(b.resource("resync")
                        .convert(LockMode.EX, Duration.ofSeconds(10))
                        .mode())
                .isEqualTo(LockMode.EX);
    }
}
