package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link LockSpace#convertJointly} (docs/md-cluster-protocol.md §b.8): several locks converted in
 * one ZooKeeper transaction, all or nothing. The zxid distance between two marker creates counts
 * the transactions in between, as in {@link WriteCountTest}.
 */
class JointRequestTest {
    private TestingServer server;
    private ZkTestSupport nodes;
    private LockSpace a;
    private LockSpace b;
    private ZooKeeper zk;

    @BeforeEach
    void start() throws Exception {
        server = new TestingServer();
        nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10));
        ZkLockManager ma = nodes.manager("a");
        a = ma.join("md0", LockSpaceOptions.of(4));
        b = nodes.manager("b").join("md0", LockSpaceOptions.of(4));
        zk = ma.curator().getZookeeperClient().getZooKeeper();
    }

    @AfterEach
    void stop() throws Exception {
        nodes.close();
        server.close();
    }

    @Test
    void freeLocksAreGrantedInOneTransaction() throws Exception {
        LockResource token = a.resource("token");
        LockResource message = a.resource("message");
        long before = marker();
        List<LockGrant> grants = a.convertJointly(
                List.of(Conversion.now(token, LockMode.EX), Conversion.now(message, LockMode.EX)),
                Duration.ofSeconds(10));
        assertThat(marker() - before - 1).as("transactions").isEqualTo(1);
        assertThat(grants).extracting(LockGrant::mode).containsExactly(LockMode.EX, LockMode.EX);
        assertThat(grants.get(0).fencingToken())
                .as("both granted by the same transaction")
                .isPositive()
                .isEqualTo(grants.get(1).fencingToken());
        assertThat(token.grantedMode()).contains(LockMode.EX);
        assertThat(message.grantedMode()).contains(LockMode.EX);

        // released together too, the value block written by the EX holder's down-conversion
        message.setValueBlock(lvb(7));
        before = marker();
        a.convertJointly(
                List.of(Conversion.now(message, LockMode.NL), Conversion.now(token, LockMode.NL)),
                Duration.ofSeconds(10));
        assertThat(marker() - before - 1).as("transactions").isEqualTo(1);
        LockResource peer = b.resource("message");
        assertThat(peer.convert(LockMode.CR).valueBlock().toByteArray()[0]).isEqualTo((byte) 7);
    }

    @Test
    void oneLockNotFreeMeansNothingIsWritten() throws Exception {
        b.resource("message").convert(LockMode.CR);
        LockResource token = a.resource("token");
        LockResource message = a.resource("message");
        long before = marker();
        assertThatThrownBy(() -> a.convertJointly(
                        List.of(Conversion.now(token, LockMode.EX), Conversion.now(message, LockMode.EX)),
                        Duration.ofSeconds(10)))
                .isInstanceOf(DlmException.class)
                .satisfies(e -> assertThat(((DlmException) e).code()).isEqualTo(DlmException.Code.NOT_GRANTED));
        assertThat(marker() - before - 1).as("transactions").isZero();
        assertThat(token.grantedMode()).as("the free lock was not taken alone").isEmpty();
        assertThat(token.requestedMode()).isEmpty();
        // and both locks are usable afterwards, one by one
        token.convert(LockMode.EX);
        assertThat(token.grantedMode()).contains(LockMode.EX);
    }

    @Test
    void aQueuedPartWaitsAloneAfterTheJointWrite() throws Exception {
        LockResource peerAck = b.resource("ack");
        peerAck.convert(LockMode.CR);
        LockResource message = a.resource("message");
        LockResource ack = a.resource("ack");
        message.convert(LockMode.EX);
        ack.convert(LockMode.CR);
        message.setValueBlock(lvb(42));
        CompletableFuture<List<LockGrant>> joint = CompletableFuture.supplyAsync(() -> {
            try {
                return a.convertJointly(
                        List.of(Conversion.now(message, LockMode.CW), Conversion.queued(ack, LockMode.EX)),
                        Timing.seconds(20));
            } catch (DlmException e) {
                throw new RuntimeException(e);
            }
        });
        // the CW (and the message in the value block) is there while the EX waits for the peer's CR
        LockResource peerMessage = b.resource("message");
        assertThat(peerMessage.convert(LockMode.CR).valueBlock().toByteArray()[0])
                .isEqualTo((byte) 42);
        assertThat(joint).isNotDone();
        assertThat(message.grantedMode()).contains(LockMode.CW);
        peerAck.convert(LockMode.NL);
        List<LockGrant> grants = joint.get(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(grants).extracting(LockGrant::mode).containsExactly(LockMode.CW, LockMode.EX);
    }

    @Test
    void aTimeoutCancelsTheWaitingPartAndKeepsTheGrantedOne() throws Exception {
        b.resource("ack").convert(LockMode.CR);
        LockResource message = a.resource("message");
        LockResource ack = a.resource("ack");
        message.convert(LockMode.EX);
        ack.convert(LockMode.CR);
        assertThatThrownBy(() -> a.convertJointly(
                        List.of(Conversion.now(message, LockMode.CW), Conversion.queued(ack, LockMode.EX)),
                        Duration.ofMillis(300)))
                .isInstanceOf(DlmException.class)
                .satisfies(e -> assertThat(((DlmException) e).code()).isEqualTo(DlmException.Code.TIMEOUT));
        assertThat(message.grantedMode()).contains(LockMode.CW);
        assertThat(ack.grantedMode())
                .as("the cancelled conversion keeps its mode")
                .contains(LockMode.CR);
        assertThat(ack.requestedMode()).isEmpty();
        ack.convert(LockMode.NL); // no request left pending on it
    }

    /**
     * The race a wait that ends can lose: the releaser's transaction grants the queued part on the
     * server, and the caller's cancel is written before its view shows that grant. The cancel then
     * fails on the server, the grant arrives, and the caller holds both locks: it must be told so,
     * with the grants, not with the interrupt as if nothing were held. The race is made certain by
     * holding a's ZooKeeper event thread (a watcher of the test's own that blocks) from before the
     * release until the cancel has been submitted: a's view stays behind the server meanwhile, as
     * it does for a few microseconds when the race happens by itself.
     */
    @Test
    void anInterruptedJointRequestWhoseCancelLostToItsGrantReturnsTheGrants() throws Exception {
        LockResource peerAck = b.resource("ack");
        peerAck.convert(LockMode.CR);
        LockResource message = a.resource("message");
        LockResource ack = a.resource("ack");
        message.convert(LockMode.EX);
        ack.convert(LockMode.CR);
        AtomicReference<Object> outcome = new AtomicReference<>();
        AtomicBoolean interruptKept = new AtomicBoolean();
        Thread sender = publishingSender(message, ack, Timing.seconds(60), outcome, interruptKept);
        CountDownLatch letGo = new CountDownLatch(1);
        sender.start();
        try {
            // the joint write committed: the CW granted, the EX queued behind b's CR
            awaitAckExQueuedOnServer();
            assertThat(serverLocks("message"))
                    .singleElement()
                    .satisfies(l -> assertThat(l.granted()).isEqualTo("CW"));

            holdEventThread(letGo);

            peerAck.convert(LockMode.NL); // b's release grants a's EX in the same transaction
            assertAckExGrantedOnServer();
            WriteStats stats = ((ZkLockSpace) a).writeStats();
            long writes = stats.plainWrites() + stats.casWrites();
            long conflicts = stats.conflicts();
            assertThat(ack.grantedMode()).as("a has not seen its grant").contains(LockMode.CR);

            sender.interrupt(); // the wait ends; the cancel is planned on a's view, still queued
            Timing.waitFor(
                    "a's cancel submitted",
                    () -> stats.plainWrites() + stats.casWrites() > writes,
                    Duration.ofSeconds(20));
            letGo.countDown();
            sender.join(Timing.millis(60_000));
            assertThat(sender.isAlive()).isFalse();

            assertThat(stats.conflicts() - conflicts)
                    .as("the cancel reached the server after the grant and lost")
                    .isEqualTo(1);
            assertToldItHoldsCwAndEx(outcome.get());
            assertThat(interruptKept).as("the interrupt is kept for the caller").isTrue();
            assertThat(ack.grantedMode()).contains(LockMode.EX);
            assertThat(ack.requestedMode()).isEmpty();
            assertThat(message.grantedMode()).contains(LockMode.CW);
            assertThat(serverLocks("ack"))
                    .filteredOn(l -> l.slot() == 0)
                    .singleElement()
                    .satisfies(l -> assertThat(l.granted()).isEqualTo("EX"));
            // held for real: b cannot share it until a lets go
            assertThatThrownBy(() -> peerAck.tryConvert(LockMode.CR))
                    .isInstanceOfSatisfying(
                            DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.NOT_GRANTED));
            ack.convert(LockMode.NL);
            assertThat(peerAck.convert(LockMode.CR).mode()).isEqualTo(LockMode.CR);
        } finally {
            letGo.countDown();
            sender.interrupt();
            sender.join(Timing.millis(60_000));
        }
    }

    /**
     * The same race ended by the timeout: a's event thread is held from before the joint write,
     * so whenever the wait runs out, a's view still shows nothing of the write, and the cancels
     * can reach the server only after b's release granted the EX there (they wait for the write's
     * reply first). The caller must get the grants, not TIMEOUT.
     */
    @Test
    void aJointRequestWhoseWaitRanOutAsItWasGrantedReturnsTheGrants() throws Exception {
        LockResource peerAck = b.resource("ack");
        peerAck.convert(LockMode.CR);
        LockResource message = a.resource("message");
        LockResource ack = a.resource("ack");
        message.convert(LockMode.EX);
        ack.convert(LockMode.CR);
        AtomicReference<Object> outcome = new AtomicReference<>();
        Thread sender = publishingSender(message, ack, Duration.ofMillis(300), outcome, new AtomicBoolean());
        CountDownLatch letGo = new CountDownLatch(1);
        try {
            holdEventThread(letGo);
            sender.start();
            awaitAckExQueuedOnServer();
            peerAck.convert(LockMode.NL); // b's release grants a's EX in the same transaction
            assertAckExGrantedOnServer();
            // the wait ran out: the caller is cancelling, and waits for the write's reply to do so
            Timing.waitFor("the caller cancels", () -> cancelWanted(message), Duration.ofSeconds(20));
            assertThat(sender.isAlive()).isTrue();
            letGo.countDown();
            sender.join(Timing.millis(60_000));
            assertThat(sender.isAlive()).isFalse();

            assertToldItHoldsCwAndEx(outcome.get());
            assertThat(ack.grantedMode()).contains(LockMode.EX);
            assertThat(message.grantedMode()).contains(LockMode.CW);
            assertThatThrownBy(() -> peerAck.tryConvert(LockMode.CR))
                    .isInstanceOfSatisfying(
                            DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.NOT_GRANTED));
        } finally {
            letGo.countDown();
            sender.interrupt();
            sender.join(Timing.millis(60_000));
        }
    }

    @Test
    void aReleaseThatFreesWaitersGrantsThemInTheSameTransaction() throws Exception {
        LockResource token = a.resource("token");
        LockResource message = a.resource("message");
        token.convert(LockMode.EX);
        message.convert(LockMode.CW);
        LockResource peerMessage = b.resource("message");
        peerMessage.convert(LockMode.CR);
        CompletableFuture<LockGrant> pr = peerMessage.convertAsync(LockMode.PR);
        Thread.sleep(200);
        assertThat(pr).as("PR waits for the CW").isNotDone();
        long before = marker();
        a.convertJointly(
                List.of(Conversion.now(message, LockMode.NL), Conversion.now(token, LockMode.NL)),
                Duration.ofSeconds(10));
        assertThat(pr.get(10, TimeUnit.SECONDS).mode()).isEqualTo(LockMode.PR);
        assertThat(marker() - before - 1)
                .as("transactions: the release grants the waiter")
                .isEqualTo(1);
    }

    @Test
    void badRequestsAreRefusedBeforeAnythingIsWritten() throws Exception {
        LockResource token = a.resource("token");
        LockResource again = a.resource("token");
        LockResource foreign = b.resource("message");
        long before = marker();
        assertThatThrownBy(() -> a.convertJointly(
                        List.of(Conversion.now(token, LockMode.EX), Conversion.now(again, LockMode.CR)),
                        Duration.ofSeconds(5)))
                .hasMessageContaining("comes twice");
        assertThatThrownBy(() -> a.convertJointly(
                        List.of(Conversion.now(token, LockMode.EX), Conversion.now(foreign, LockMode.CR)),
                        Duration.ofSeconds(5)))
                .hasMessageContaining("is not a lock of");
        assertThatThrownBy(() -> a.convertJointly(List.of(), Duration.ofSeconds(5)))
                .hasMessageContaining("at least one");
        assertThat(marker() - before - 1).as("transactions").isZero();
        assertThat(token.grantedMode()).isEmpty();
    }

    /**
     * A thread (not started) that asks for a's md publication step, {@code message} CW now with
     * {@code ack} EX queued, within {@code wait}, and records what the caller got (the grants or
     * the exception) and whether its interrupt was kept.
     */
    private Thread publishingSender(
            LockResource message,
            LockResource ack,
            Duration wait,
            AtomicReference<Object> outcome,
            AtomicBoolean interruptKept) {
        return new Thread(
                () -> {
                    try {
                        outcome.set(a.convertJointly(
                                List.of(Conversion.now(message, LockMode.CW), Conversion.queued(ack, LockMode.EX)),
                                wait));
                    } catch (Throwable t) {
                        outcome.set(t);
                    }
                    interruptKept.set(Thread.currentThread().isInterrupted());
                },
                "joint-sender");
    }

    private void awaitAckExQueuedOnServer() throws InterruptedException {
        Timing.waitFor(
                "a's EX on ack queued on the server",
                () -> serverLocks("ack").stream().anyMatch(l -> l.slot() == 0 && "EX".equals(l.requested())),
                Duration.ofSeconds(20));
    }

    private void assertAckExGrantedOnServer() throws DlmException {
        assertThat(serverLocks("ack"))
                .filteredOn(l -> l.slot() == 0)
                .singleElement()
                .satisfies(l -> assertThat(l.granted()).isEqualTo("EX"));
    }

    private static void assertToldItHoldsCwAndEx(Object outcome) {
        assertThat(outcome)
                .as("the caller is told it holds both locks")
                .isInstanceOfSatisfying(
                        List.class,
                        grants -> assertThat(grants)
                                .extracting(g -> ((LockGrant) g).mode())
                                .containsExactly(LockMode.CW, LockMode.EX));
    }

    private static LockValueBlock lvb(int first) {
        byte[] b = new byte[64];
        b[0] = (byte) first;
        return LockValueBlock.of(b);
    }

    /**
     * Stops a's ZooKeeper event thread in a watcher of the test's own until {@code letGo}: every
     * event and write reply a receives meanwhile waits behind it, so a's view stays where it is.
     */
    private void holdEventThread(CountDownLatch letGo) throws Exception {
        CountDownLatch held = new CountDownLatch(1);
        String blocker = "/hold-a-events";
        zk.exists(blocker, event -> {
            held.countDown();
            try {
                letGo.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        zk.create(blocker, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        assertThat(held.await(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS))
                .as("a's event thread is held")
                .isTrue();
    }

    /** Whether a cancel of the request pending on {@code r} was asked for (a's handle state). */
    private boolean cancelWanted(LockResource r) {
        ZkLockSpace space = (ZkLockSpace) a;
        space.lock.lock();
        try {
            Pending p = ((ZkLockResource) r).pending;
            return p != null && p.cancelResult != null;
        } finally {
            space.lock.unlock();
        }
    }

    private List<LockSpaceDump.Lock> serverLocks(String resource) throws DlmException {
        List<LockSpaceDump.Lock> locks = new ArrayList<>();
        for (LockSpaceDump.Resource r :
                LockSpaceDump.read(zk, "/clustermd", "c").lockSpaces().get(0).resources()) {
            if (r.name().equals(resource)) {
                locks.addAll(r.granted());
                locks.addAll(r.converting());
                locks.addAll(r.waiting());
            }
        }
        return locks;
    }

    private long marker() throws Exception {
        String p = zk.create("/marker", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);
        return zk.exists(p, false).getCzxid();
    }
}
