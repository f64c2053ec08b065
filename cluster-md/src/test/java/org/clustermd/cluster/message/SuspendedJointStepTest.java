package org.clustermd.cluster.message;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.testing.TcpProxy;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/lessons.md §69, for {@link LockSteps#jointly}: the sender's publication ({@code message}
 * EX to CW with {@code ack} EX queued, md-cluster-protocol §b.3 steps 3 and 4) commits, its
 * completion reaches the sender after its lease lapsed and is refused, and the queued {@code ack}
 * EX is cancelled with a cancel that can be written only once the lease is back. The step must go
 * on from what the locks hold once that cancel is settled: {@code message} already CW, {@code ack}
 * EX asked for again, granted when the receiver acknowledges. Taken one lock at a time at once,
 * the {@code ack} conversion met the cancel still pending and failed (INVALID_REQUEST), and a
 * cancel that lost to the grant would have left {@code ack} EX held by a sender that believed the
 * message unacknowledged. Member a talks to ZooKeeper through a proxy (the same cut as in
 * {@link SuspendedJointSendTest}); the receiver r and the dump talk to it directly.
 */
class SuspendedJointStepTest {
    private static final Duration SESSION = Timing.scaled(Duration.ofSeconds(12));
    private static final Duration BOUND = SESSION;
    private static final Duration LIVENESS = Timing.scaled(Duration.ofSeconds(90));

    @TempDir
    Path dir;

    private EmbeddedZooKeeper zk;
    private TcpProxy proxy;
    private final List<ZkLockManager> managers = new ArrayList<>();
    private Thread step;

    @BeforeEach
    void start() throws Exception {
        zk = EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
        proxy = TcpProxy.start(zk.clientPort());
    }

    @AfterEach
    void stop() throws Exception {
        try {
            proxy.restore();
            if (step != null) {
                step.interrupt();
                step.join(LIVENESS.toMillis());
            }
            for (ZkLockManager m : managers) m.close();
        } finally {
            try {
                proxy.close();
            } finally {
                zk.close();
            }
        }
    }

    private ZkLockManager manager(String name, String connectString) throws DlmException {
        ZkLockManager m = ZkLockManager.builder()
                .connectString(connectString)
                .cluster("c")
                .nodeName(name)
                .sessionTimeout(SESSION)
                .connectionTimeout(Duration.ofSeconds(20))
                .ensembleTracker(false)
                .build();
        managers.add(m);
        return m;
    }

    @Test
    void aPublicationWhoseQueuedAckOutlivedItsSuspendedWriteIsTakenOnFromWhatIsHeld() throws Exception {
        long before = System.nanoTime();
        ZkLockManager ma = manager("a", proxy.connectString());
        // a short request timeout: a's lock manager gives up waiting for the cancel of the queued
        // ack while the lease is lapsed, and the joint request ends with that cancel pending
        LockSpace a = ma.join("md0", LockSpaceOptions.of(4).withRequestTimeout(SESSION.dividedBy(12)));
        ZkLockManager mr = manager("r", zk.connectString());
        LockSpace r = mr.join("md0", LockSpaceOptions.of(4));
        ZooKeeper reader = mr.curator().getZookeeperClient().getZooKeeper();

        LockResource receiverAck = r.resource("ack");
        receiverAck.convert(LockMode.CR); // armed: the sender's ack EX waits for it
        LockResource message = a.resource("message");
        LockResource ack = a.resource("ack");
        ack.convert(LockMode.CR);
        message.convert(LockMode.EX);
        LockSteps steps = new LockSteps("a", a, message, BOUND);

        // a renewed lease (not the first, longer one: see SuspendedJointSendTest), and a's view
        // current before the cut
        await().atMost(LIVENESS).until(() -> a.leaseDeadlineNanos() - before > SESSION.toNanos());
        CountDownLatch synced = new CountDownLatch(1);
        ma.curator().getZookeeperClient().getZooKeeper().sync("/", (rc, path, ctx) -> synced.countDown(), null);
        assertThat(synced.await(LIVENESS.toMillis(), TimeUnit.MILLISECONDS)).isTrue();

        proxy.cutServerToClient();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        step = new Thread(
                () -> {
                    try {
                        steps.jointly(BOUND, Conversion.now(message, LockMode.CW), Conversion.queued(ack, LockMode.EX));
                    } catch (Throwable e) {
                        failure.set(e);
                    }
                },
                "publish");
        step.start();
        await().atMost(LIVENESS)
                .alias("the joint write committed: message CW, ack EX queued behind r's CR")
                .until(() -> ServerLocks.heldBy(reader, a.slot().number(), "message")
                                .equals("CW")
                        && ServerLocks.heldBy(reader, a.slot().number(), "ack").equals("CR/EX"));
        await().atMost(LIVENESS).until(() -> a.state() == LockSpaceState.SUSPENDED);

        // the reply and the events arrive while SUSPENDED (the CW's completion is refused, the
        // ack EX cancelled, its cancel not written); a's requests are held, so the lease stays
        // lapsed until the step's joint request is over and it waits for the lease
        proxy.cutOnlyClientToServer();
        await().atMost(LIVENESS)
                .alias("the joint request over, its step waiting for the lease")
                .until(() -> !step.isAlive() || waitsForTheLease(step));
        proxy.restore();
        await().atMost(LIVENESS).until(() -> a.state() == LockSpaceState.ACTIVE);

        receiverAck.convert(LockMode.NL); // r processed the message
        step.join(LIVENESS.toMillis());
        assertThat(step.isAlive()).isFalse();
        assertThat(failure.get())
                .as("the step went on from what the locks held")
                .isNull();
        assertThat(message.grantedMode()).contains(LockMode.CW);
        assertThat(ack.grantedMode()).contains(LockMode.EX);
        assertThat(ack.requestedMode()).isEmpty();
        assertThat(ServerLocks.heldBy(reader, a.slot().number(), "message")).isEqualTo("CW");
        assertThat(ServerLocks.heldBy(reader, a.slot().number(), "ack")).isEqualTo("EX");
    }

    private static boolean waitsForTheLease(Thread t) {
        return (t.getState() == Thread.State.TIMED_WAITING || t.getState() == Thread.State.WAITING)
                && Arrays.stream(t.getStackTrace())
                        .anyMatch(f -> f.getMethodName().equals("awaitLease"));
    }
}
