package org.clustermd.cluster.message;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.WriteStats;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.Raid1Exception;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The message channel on a real ZooKeeper, several nodes in this JVM, each with its own session:
 * md's send and receive sequences ({@code docs/md-cluster-protocol.md §b.3}, {@code §b.4}) under
 * load, joins and deaths. The invariants: each receiver processes each message exactly once and
 * before the sender's broadcast returns; nothing deadlocks; a refused message is not acked.
 */
class MessageChannelTest {
    private static final Duration SESSION = Duration.ofSeconds(2);
    private static final Duration TOKEN = Duration.ofSeconds(10);
    private static final Duration LIVENESS = Duration.ofSeconds(90);

    @TempDir
    Path dir;

    private EmbeddedZooKeeper zk;
    private final List<Node> nodes = new CopyOnWriteArrayList<>();
    private final List<Thread> threads = new CopyOnWriteArrayList<>();

    /** One node: its session, lockspace, channel and what its handler saw. */
    final class Node {
        final String name;
        final ZkLockManager manager;
        final LockSpace ls;
        final MessageChannel channel;
        /** (sender slot, devNumber) pairs in the order processed. */
        final List<List<Integer>> processed = new CopyOnWriteArrayList<>();

        volatile Function<Envelope, Disposition> behaviour = e -> Disposition.PROCESSED;

        Node(String name, boolean startHandling) throws Exception {
            this.name = name;
            manager = ZkLockManager.builder()
                    .connectString(zk.connectString())
                    .cluster("c")
                    .nodeName(name)
                    .sessionTimeout(SESSION)
                    .connectionTimeout(Duration.ofSeconds(20))
                    .build();
            ls = manager.join("md0", LockSpaceOptions.of(4).withRequestTimeout(TOKEN));
            channel = MessageChannel.open(
                    name,
                    ls,
                    ChannelBounds.fromTokenWait(TOKEN),
                    e -> {
                        processed.add(
                                List.of(e.senderSlot(), ((ClusterMessage.MetadataUpdated) e.message()).devNumber()));
                        return behaviour.apply(e);
                    },
                    () -> {});
            if (startHandling) channel.startHandling();
            nodes.add(this);
        }

        int slot() {
            return ls.slot().number();
        }

        boolean saw(int senderSlot, int devNumber) {
            return processed.contains(List.of(senderSlot, devNumber));
        }

        void close() {
            channel.close();
            manager.close();
        }
    }

    @BeforeEach
    void startZooKeeper() throws Exception {
        zk = EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
    }

    @AfterEach
    void stopAll() throws Exception {
        for (Thread t : threads) t.interrupt();
        for (Thread t : threads) t.join(TimeUnit.SECONDS.toMillis(30));
        for (Node n : nodes) n.close();
        zk.close();
    }

    /**
     * md-cluster-protocol §b.8: the steps that never wait for a peer share a write, so a broadcast
     * to two receivers commits 3 writes for the sender and 3 for each receiver (md's steps one by
     * one: 7 and 5, 17 in all). Lost races are not counted: they commit nothing.
     */
    @Test
    void aBroadcastCommitsThreeWritesForTheSenderAndThreeForEachReceiver() throws Exception {
        Node a = new Node("a", true);
        Node b = new Node("b", true);
        Node c = new Node("c", true);
        List<Node> all = List.of(a, b, c);
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(0)); // resources created, caches warm
        await().atMost(LIVENESS).until(() -> b.saw(a.slot(), 0) && c.saw(a.slot(), 0));
        long before = committed(all);
        int broadcasts = 10;
        for (int i = 1; i <= broadcasts; i++) {
            a.channel.broadcast(new ClusterMessage.MetadataUpdated(i));
        }
        // the receivers' last step (ack re-armed, message released) may follow the sender's return
        await().atMost(LIVENESS)
                .until(() -> committed(all) - before >= (long) broadcasts * 9
                        && b.channel.messagesReceived() == broadcasts + 1
                        && c.channel.messagesReceived() == broadcasts + 1);
        Thread.sleep(500);
        // at most one more per broadcast: the grant of the next broadcast's queued message EX,
        // written by its owner when the releasing receiver's view did not show it yet
        assertThat(committed(all) - before)
                .as("committed writes of %d broadcasts to two receivers", broadcasts)
                .isBetween((long) broadcasts * 9, (long) broadcasts * 10);
    }

    private static long committed(List<Node> nodes) {
        long n = 0;
        for (Node node : nodes) {
            WriteStats w = ZkLockManager.writeStats(node.ls);
            n += w.plainWrites() + w.casWrites() - w.conflicts();
        }
        return n;
    }

    @Test
    void lesson2And9ThreeNodesSendingAtOnceNeverDeadlockAndEveryPeerProcessesEachMessageOnceBeforeTheAck()
            throws Exception {
        Node a = new Node("a", true);
        Node b = new Node("b", true);
        Node c = new Node("c", true);
        List<Node> all = List.of(a, b, c);
        int perThread = 12;
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        List<String> notYetProcessed = new CopyOnWriteArrayList<>();
        CountDownLatch done = new CountDownLatch(all.size() * 2);
        for (Node sender : all) {
            // two local threads per node: one sender per node at a time (docs/lessons.md §2)
            for (int t = 0; t < 2; t++) {
                int base = t * 100;
                spawn("send-" + sender.name + t, () -> {
                    try {
                        for (int i = 0; i < perThread; i++) {
                            int dev = base + i;
                            sender.channel.broadcast(new ClusterMessage.MetadataUpdated(dev));
                            for (Node peer : all) {
                                if (peer != sender && !peer.saw(sender.slot(), dev)) {
                                    notYetProcessed.add(peer.name + " had not processed " + sender.name + ":" + dev
                                            + " at its ack");
                                }
                            }
                        }
                    } catch (Throwable e) {
                        failures.add(e);
                    } finally {
                        done.countDown();
                    }
                });
            }
        }
        assertThat(done.await(LIVENESS.toSeconds(), TimeUnit.SECONDS))
                .as("no deadlock (docs/lessons.md §1, §2, §9)")
                .isTrue();
        assertThat(failures).isEmpty();
        assertThat(notYetProcessed).as("processed before the ack").isEmpty();
        for (Node n : all) {
            assertThat(new HashSet<>(n.processed))
                    .as(n.name + " processes each message exactly once")
                    .hasSize(n.processed.size());
            assertThat(n.processed).as(n.name).hasSize(2 * 2 * perThread).noneMatch(p -> p.get(0) == n.slot());
            assertThat(n.channel.messagesSent()).isEqualTo(2 * perThread);
            assertThat(n.channel.messagesRefused()).isZero();
        }
    }

    @Test
    void lesson7ANodeJoiningDuringBroadcastsIsAReceiverOfEveryLaterOneAndADyingNodeBlocksNone() throws Exception {
        Node a = new Node("a", true);
        Node b = new Node("b", true);
        Node victim = new Node("victim", true);
        AtomicBoolean joined = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        Set<Integer> sentAfterJoin = ConcurrentHashMap.newKeySet();
        List<Integer> sent = new CopyOnWriteArrayList<>();
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        AtomicInteger next = new AtomicInteger();
        CountDownLatch senderDone = new CountDownLatch(1);
        spawn("sender-a", () -> {
            try {
                while (!stop.get()) {
                    int dev = next.getAndIncrement();
                    boolean afterJoin = joined.get();
                    a.channel.broadcast(new ClusterMessage.MetadataUpdated(dev));
                    sent.add(dev);
                    if (afterJoin) sentAfterJoin.add(dev);
                }
            } catch (Throwable e) {
                failures.add(e);
            } finally {
                senderDone.countDown();
            }
        });
        await().atMost(LIVENESS).until(() -> sent.size() >= 5);
        Node joiner = new Node("joiner", true);
        joined.set(true);
        await().atMost(LIVENESS).until(() -> sentAfterJoin.size() >= 5);
        expire(victim.manager);
        int atDeath = sent.size();
        await().atMost(LIVENESS).until(() -> sent.size() >= atDeath + 10 || !failures.isEmpty());
        stop.set(true);
        assertThat(senderDone.await(LIVENESS.toSeconds(), TimeUnit.SECONDS)).isTrue();

        assertThat(failures)
                .as("no broadcast failed, across a join and a death")
                .isEmpty();
        assertThat(sentAfterJoin).allMatch(dev -> joiner.saw(a.slot(), dev));
        assertThat(new HashSet<>(joiner.processed)).hasSize(joiner.processed.size());
        for (Node n : List.of(b, joiner)) {
            assertThat(new HashSet<>(n.processed)).as(n.name + " exactly once").hasSize(n.processed.size());
        }
        assertThat(b.processed).as("b saw every message").hasSize(sent.size());
        assertThat(joiner.channel.messagesRefused()).isZero();
    }

    @Test
    void lesson10ARefusedMessageIsNotAckedAndAFailedHandlerStillAcks() throws Exception {
        Node a = new Node("a", true);
        Node b = new Node("b", true);
        b.behaviour = e -> {
            throw new IllegalStateException("handler failure");
        };
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(1)); // returns: md logs a failed handler and acks
        assertThat(b.saw(a.slot(), 1)).isTrue();
        await().atMost(LIVENESS).until(() -> b.channel.messagesReceived() == 1);

        b.behaviour = e -> Disposition.REFUSED;
        assertThatThrownBy(() -> a.channel.broadcast(new ClusterMessage.MetadataUpdated(2)))
                .isInstanceOfSatisfying(
                        Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.CLUSTER))
                .hasMessageContaining("METADATA_UPDATED was not acknowledged by every node");
        assertThat(b.channel.messagesRefused()).isEqualTo(1);
        assertThat(a.channel.messagesSent()).isEqualTo(1);

        // the channel is idle again on both sides: the next message goes through
        b.behaviour = e -> Disposition.PROCESSED;
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(3));
        b.channel.broadcast(new ClusterMessage.MetadataUpdated(4));
        assertThat(b.saw(a.slot(), 3)).isTrue();
        assertThat(a.saw(b.slot(), 4)).isTrue();
    }

    @Test
    void lesson8MessagesWaitUntilHandlingStartsAndALoneNodeNeverSendsToItself() throws Exception {
        Node a = new Node("a", true);
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(1));
        assertThat(a.processed).as("never a message to oneself").isEmpty();

        Node b = new Node("b", false);
        AtomicBoolean handlingStarted = new AtomicBoolean();
        List<Boolean> startedWhenHandled = new CopyOnWriteArrayList<>();
        b.behaviour = e -> {
            startedWhenHandled.add(handlingStarted.get());
            return Disposition.PROCESSED;
        };
        CountDownLatch sentLatch = new CountDownLatch(1);
        List<Throwable> failures = new CopyOnWriteArrayList<>();
        spawn("send", () -> {
            try {
                a.channel.broadcast(new ClusterMessage.MetadataUpdated(2));
            } catch (Throwable e) {
                failures.add(e);
            } finally {
                sentLatch.countDown();
            }
        });
        Thread.sleep(500); // let the blocking callback reach b before it may handle anything
        handlingStarted.set(true);
        b.channel.startHandling();
        assertThat(sentLatch.await(LIVENESS.toSeconds(), TimeUnit.SECONDS)).isTrue();
        assertThat(failures).isEmpty();
        assertThat(startedWhenHandled).containsExactly(true);
    }

    @Test
    void bitmapResizeIsNeverSent() throws Exception {
        Node a = new Node("a", true);
        assertThatThrownBy(() -> a.channel.broadcast(new ClusterMessage.BitmapResize(8)))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("BITMAP_RESIZE");
        a.channel.broadcast(new ClusterMessage.MetadataUpdated(0)); // the permit was released
    }

    private void spawn(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        threads.add(t);
        t.start();
    }

    /** Expires {@code m}'s session at once, as ZooKeeper's own tests do: a second handle attaches to it and closes it. */
    private void expire(ZkLockManager m) throws Exception {
        ZooKeeper own = m.curator().getZookeeperClient().getZooKeeper();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper dup = new ZooKeeper(
                zk.connectString(),
                10_000,
                e -> {
                    if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
                },
                own.getSessionId(),
                own.getSessionPasswd());
        try {
            if (!connected.await(20, TimeUnit.SECONDS))
                throw new IllegalStateException("could not attach to the session");
        } finally {
            dup.close();
        }
    }
}
