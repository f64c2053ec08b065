package org.clustermd.cluster.message;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.zookeeper.ZooKeeper;
import org.awaitility.core.ConditionTimeoutException;
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
 * docs/lessons.md §69: a broadcast's first write ({@code token} EX with {@code message} EX,
 * md-cluster-protocol §b.3) commits, and the joint request still ends SUSPENDED, because its
 * grants reach the sender only after its lease lapsed. The channel must not take that for
 * "nothing written": it holds both locks. Node a talks to ZooKeeper through a proxy; b and c,
 * its receivers, and the dump talk to it directly.
 *
 * <p>The sequence: a's replies and events are held while its write goes through (the write
 * commits, a hears nothing, its lease lapses: SUSPENDED); then the cut is turned around (a
 * receives the reply and the events, so the lock manager refuses the grants' completions as
 * SUSPENDED, and a's own requests are held, so the lease cannot come back) until the broadcast
 * returned or its token bound is over; then the link is restored and the same session resumes.
 * The broadcast must then either complete, every receiver processing the message exactly once,
 * or fail with a's {@code token} and {@code message} released on the server; and the next
 * broadcasts, from b and from a, must go through.
 */
class SuspendedJointSendTest {
    /** a's session: long, so that the cut outlasts a's token bound but not the session. */
    private static final Duration SESSION = Timing.scaled(Duration.ofSeconds(12));
    /**
     * The channel's token bound: a's lease lapses (at most half a session timeout after the
     * cut) before it runs out, and it runs out well before a's client gives up its connection
     * (two thirds of a session timeout without a byte) after the cut is turned around.
     */
    private static final Duration TOKEN = SESSION.multipliedBy(3).dividedBy(5);

    private static final Duration LIVENESS = Timing.scaled(Duration.ofSeconds(90));

    @TempDir
    Path dir;

    private EmbeddedZooKeeper zk;
    private TcpProxy proxy;
    private final List<Node> nodes = new CopyOnWriteArrayList<>();
    private final List<ZkLockManager> peers = new CopyOnWriteArrayList<>();

    /** One node: its session, lockspace, channel and the messages its handler processed. */
    private final class Node {
        final ZkLockManager manager;
        final LockSpace ls;
        final MessageChannel channel;
        /** (sender slot, devNumber) pairs in the order processed. */
        final List<List<Integer>> processed = new CopyOnWriteArrayList<>();

        Node(String name, String connectString) throws Exception {
            this(name, connectString, TOKEN);
        }

        Node(String name, String connectString, Duration requestTimeout) throws Exception {
            manager = ZkLockManager.builder()
                    .connectString(connectString)
                    .cluster("c")
                    .nodeName(name)
                    .sessionTimeout(SESSION)
                    .connectionTimeout(Duration.ofSeconds(20))
                    .ensembleTracker(false) // behind the proxy, keep the proxy's address
                    .build();
            nodes.add(this);
            ls = manager.join("md0", LockSpaceOptions.of(4).withRequestTimeout(requestTimeout));
            channel = MessageChannel.open(
                    name,
                    ls,
                    ChannelBounds.fromTokenWait(TOKEN),
                    e -> {
                        processed.add(
                                List.of(e.senderSlot(), ((ClusterMessage.MetadataUpdated) e.message()).devNumber()));
                        return Disposition.PROCESSED;
                    },
                    () -> {});
            channel.startHandling();
        }

        int slot() {
            return ls.slot().number();
        }

        long times(Node sender, int dev) {
            return processed.stream()
                    .filter(p -> p.equals(List.of(sender.slot(), dev)))
                    .count();
        }

        void close() {
            try {
                if (channel != null) channel.close();
            } finally {
                manager.close();
            }
        }
    }

    @BeforeEach
    void start() throws Exception {
        zk = EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
        proxy = TcpProxy.start(zk.clientPort());
    }

    @AfterEach
    void stop() {
        try {
            proxy.restore();
            for (ZkLockManager m : peers) m.close();
            for (Node n : nodes) {
                try {
                    n.close();
                } catch (RuntimeException e) {
                    // the others still close
                }
            }
        } finally {
            try {
                proxy.close();
            } finally {
                zk.close();
            }
        }
    }

    /** The write grants both locks at once; their completions are refused. */
    @Test
    void aBroadcastWhoseFirstWriteCommittedButEndedSuspendedNeitherKeepsNorForgetsItsLocks() throws Exception {
        firstWriteEndsSuspended(false);
    }

    /**
     * A receiver still on the last message holds {@code message} PR (md-cluster-protocol §b.4,
     * between steps 4 and 5; a plain member of the lockspace stands in for it), so the write
     * grants the token and queues {@code message} EX. The token's completion is refused; the
     * queued conversion is cancelled, but that cancel can be written only once the lease is back,
     * after a's lock manager gave up waiting for it (a's request timeout is short): the joint
     * request ends with a request still pending on {@code message}.
     */
    @Test
    void aBroadcastWhoseQueuedMessageLockOutlivedItsSuspendedFirstWriteNeitherKeepsNorForgetsIt() throws Exception {
        firstWriteEndsSuspended(true);
    }

    private void firstWriteEndsSuspended(boolean receiverStillOnLastMessage) throws Exception {
        long before = System.nanoTime();
        Node a = new Node("a", proxy.connectString(), receiverStillOnLastMessage ? SESSION.dividedBy(12) : TOKEN);
        Node b = new Node("b", zk.connectString());
        Node c = new Node("c", zk.connectString());
        ZooKeeper reader = b.manager.curator().getZookeeperClient().getZooKeeper();
        long session = a.manager.curator().getZookeeperClient().getZooKeeper().getSessionId();

        // every resource exists, every receiver is idle again (message NL, ack CR): the first
        // write of the next broadcast is granted whole at once
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(0));
        await().atMost(LIVENESS)
                .until(() -> b.channel.messagesReceived() == 1
                        && c.channel.messagesReceived() == 1
                        && ServerLocks.heldBy(reader, b.slot(), "message").equals("NL")
                        && ServerLocks.heldBy(reader, c.slot(), "message").equals("NL"));

        // a's lease renewed by answers to its own probes (it then ends at most half a session
        // timeout after the last answer), not the first one it got with its session, which ends
        // 5/6 of a session timeout after the start: cut soon after it, a's client would give up
        // its connection before the lease lapsed
        await().atMost(LIVENESS)
                .alias("a's lease renewed")
                .until(() -> a.ls.leaseDeadlineNanos() - before > SESSION.toNanos());

        LockResource lastReceiver = null;
        if (receiverStillOnLastMessage) {
            ZkLockManager pm = ZkLockManager.builder()
                    .connectString(zk.connectString())
                    .cluster("c")
                    .nodeName("p")
                    .sessionTimeout(SESSION)
                    .connectionTimeout(Duration.ofSeconds(20))
                    .build();
            peers.add(pm);
            lastReceiver = pm.join("md0", LockSpaceOptions.of(4)).resource("message");
            lastReceiver.convert(LockMode.PR);
        }
        String messageAfterWrite = receiverStillOnLastMessage ? "NL/EX" : "EX";
        // a's view shows all of that before the cut: a sync's answer follows every earlier event,
        // on the event thread that applies them (planned on an older view, the write would lose
        // its race and a would never hear so)
        CountDownLatch synced = new CountDownLatch(1);
        a.manager.curator().getZookeeperClient().getZooKeeper().sync("/", (rc, path, ctx) -> synced.countDown(), null);
        assertThat(synced.await(LIVENESS.toMillis(), TimeUnit.MILLISECONDS)).isTrue();

        proxy.cutServerToClient();
        long started = System.nanoTime();
        CompletableFuture<Void> first = CompletableFuture.runAsync(() -> {
            try {
                a.channel.broadcast(new ClusterMessage.MetadataUpdated(1));
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        await().atMost(LIVENESS)
                .alias("the joint write committed: a holds token EX, and message EX or queued for it")
                .until(() -> ServerLocks.heldBy(reader, a.slot(), "token").equals("EX")
                        && ServerLocks.heldBy(reader, a.slot(), "message").equals(messageAfterWrite));
        await().atMost(LIVENESS)
                .alias("a heard nothing back: its lease lapsed")
                .until(() -> a.ls.state() == LockSpaceState.SUSPENDED);
        assertThat(first).as("still waiting for its first write").isNotDone();

        // the reply and the events reach a while it is SUSPENDED: the grants' completions are
        // refused. a's requests are held, so its lease stays lapsed until the step's bound is over
        proxy.cutOnlyClientToServer();
        long waitUntil = started + TOKEN.plus(SESSION.dividedBy(12)).toNanos();
        try {
            first.get(Math.max(1, waitUntil - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (TimeoutException | ExecutionException e) {
            // done (either way) or still waiting for the lease: the outcome is checked below
        }
        proxy.restore();
        await().atMost(LIVENESS).until(() -> a.ls.state() == LockSpaceState.ACTIVE);
        if (lastReceiver != null) lastReceiver.convert(LockMode.NL); // the last receiver is done
        Throwable failure = outcome(first);
        assertThat(a.manager.curator().getZookeeperClient().getZooKeeper().getSessionId())
                .as("the same session resumed")
                .isEqualTo(session);
        System.out.println("suspended joint send: the broadcast "
                + (failure == null ? "completed" : "failed: " + failure.getMessage()));

        if (failure == null) {
            assertThat(b.times(a, 1)).as("b processed the message once").isEqualTo(1);
            assertThat(c.times(a, 1)).as("c processed the message once").isEqualTo(1);
        } else {
            assertThat(b.times(a, 1)).as("b processed it at most once").isLessThanOrEqualTo(1);
            assertThat(c.times(a, 1)).as("c processed it at most once").isLessThanOrEqualTo(1);
        }
        // whichever way it ended, a keeps no lock of the channel above its idle mode: a failed
        // broadcast released what its first write took, a completed one released it as usual
        try {
            await().atMost(Timing.scaled(Duration.ofSeconds(20)))
                    .until(() -> idle(ServerLocks.heldBy(reader, a.slot(), "token"))
                            && idle(ServerLocks.heldBy(reader, a.slot(), "message")));
        } catch (ConditionTimeoutException e) {
            throw new AssertionError("after its broadcast "
                    + (failure == null ? "completed" : "failed (" + failure.getMessage() + ")")
                    + ", a still holds token " + ServerLocks.heldBy(reader, a.slot(), "token") + " and message "
                    + ServerLocks.heldBy(reader, a.slot(), "message") + " on the server");
        }

        // no stall: the token is free for a peer, and a's channel works
        b.channel.broadcast(new ClusterMessage.MetadataUpdated(2));
        assertThat(a.times(b, 2)).isEqualTo(1);
        assertThat(c.times(b, 2)).isEqualTo(1);
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(3));
        assertThat(b.times(a, 3)).isEqualTo(1);
        assertThat(c.times(a, 3)).isEqualTo(1);
    }

    private static boolean idle(String mode) {
        return mode.equals("NL") || mode.equals("-");
    }

    private static Throwable outcome(CompletableFuture<?> f) {
        if (!f.isDone()) {
            try {
                f.get(LIVENESS.toMillis(), TimeUnit.MILLISECONDS);
            } catch (Exception e) {
                // examined below
            }
        }
        try {
            f.join();
            return null;
        } catch (RuntimeException e) {
            Throwable t = e.getCause() == null ? e : e.getCause();
            return t instanceof IllegalStateException && t.getCause() != null ? t.getCause() : t;
        }
    }
}
