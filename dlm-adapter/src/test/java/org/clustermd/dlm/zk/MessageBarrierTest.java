package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.DlmException;
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
 * md-cluster's broadcast (docs/md-cluster-protocol.md §b.3, docs/md-cluster-protocol.md §b.4) on three nodes: token EX, message EX
 * then CW, ack CR to EX as the "everyone processed it" barrier; receivers read with CR and
 * barrier with PR. docs/lessons.md §1: the old CR to EX barrier deadlocks with three nodes.
 */
class MessageBarrierTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(20));
    private TestingServer server;
    private ZkTestSupport nodes;
    private final List<Thread> threads = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        server = new TestingServer();
        nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() throws Exception {
        threads.forEach(Thread::interrupt);
        for (Thread t : threads) {
            t.join(Timing.millis(5000));
        }
        nodes.close();
        server.close();
    }

    /** One node: its locks on token, message and ack, and its receive thread. */
    final class Node {
        final LockSpace ls;
        final LockResource token;
        final LockResource message;
        final LockResource ack;
        final BlockingQueue<LockMode> basts = new LinkedBlockingQueue<>();
        final List<Integer> received = new CopyOnWriteArrayList<>();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final boolean oldDeadlockingBarrier;
        /** md's recv_mutex: a node never interleaves its own send with a receive (docs/lessons.md §2). */
        final java.util.concurrent.locks.ReentrantLock recvMutex = new java.util.concurrent.locks.ReentrantLock();

        Node(String name, boolean oldDeadlockingBarrier) throws DlmException {
            this.oldDeadlockingBarrier = oldDeadlockingBarrier;
            ls = nodes.manager(name).join("md0", LockSpaceOptions.of(4).withRequestTimeout(WAIT));
            token = ls.resource("token");
            message = ls.resource("message");
            ack = ls.resource("ack", (r, mode) -> {
                if (mode == LockMode.EX) {
                    basts.add(mode);
                }
            });
            token.convert(LockMode.NL);
            message.convert(LockMode.NL);
            // join takes token EX while arming ack (docs/lessons.md §7: a joiner must not arm ack mid-broadcast)
            token.convert(LockMode.EX);
            ack.convert(LockMode.CR);
            token.convert(LockMode.NL);
            Thread t = new Thread(this::receiveLoop, "recv-" + name);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }

        void send(int payload) throws DlmException {
            token.convert(LockMode.EX);
            recvMutex.lock();
            try {
                sendLocked(payload);
            } finally {
                recvMutex.unlock();
            }
            token.convert(LockMode.NL);
        }

        private void sendLocked(int payload) throws DlmException {
            message.convert(LockMode.EX);
            byte[] b = new byte[64];
            b[0] = (byte) payload;
            b[4] = (byte) ls.slot().number();
            message.setValueBlock(LockValueBlock.of(b));
            message.convert(oldDeadlockingBarrier ? LockMode.CR : LockMode.CW);
            ack.convert(LockMode.EX); // granted once every receiver dropped its CR
            ack.convert(LockMode.CR);
            message.convert(LockMode.NL);
        }

        private void receiveLoop() {
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    if (basts.poll(100, TimeUnit.MILLISECONDS) == null) {
                        continue;
                    }
                    basts.clear();
                    recvMutex.lock();
                    try {
                        LockValueBlock lvb = message.convert(LockMode.CR).valueBlock();
                        received.add((int) lvb.toByteArray()[0]);
                        ack.convert(LockMode.NL);
                        message.convert(oldDeadlockingBarrier ? LockMode.EX : LockMode.PR);
                        ack.convert(LockMode.CR);
                        message.convert(LockMode.NL);
                    } finally {
                        recvMutex.unlock();
                    }
                }
            } catch (DlmException e) {
                failure.set(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Test
    void threeNodesBroadcastWithCwAndPrWithoutDeadlock() throws Exception {
        Node a = new Node("a", false);
        Node b = new Node("b", false);
        Node c = new Node("c", false);
        for (int i = 1; i <= 5; i++) {
            Node sender = List.of(a, b, c).get(i % 3);
            sender.send(i);
        }
        for (Node n : List.of(a, b, c)) {
            assertThat(n.failure.get()).isNull();
        }
        // every message reached both other nodes, in order, and was processed before send returned
        assertThat(a.received).containsExactly(1, 2, 4, 5);
        assertThat(b.received).containsExactly(2, 3, 5);
        assertThat(c.received).containsExactly(1, 3, 4);
    }

    @Test
    void theOldCrToExBarrierIsReportedAsAConversionDeadlock() throws Exception {
        Node a = new Node("a", true);
        Node b = new Node("b", true);
        Node c = new Node("c", true);
        Thread sender = new Thread(() -> {
            try {
                a.send(1);
            } catch (DlmException e) {
                a.failure.set(e);
            }
        });
        sender.setDaemon(true);
        threads.add(sender);
        sender.start();
        org.awaitility.Awaitility.await().atMost(WAIT).until(() -> b.failure.get() != null || c.failure.get() != null);
        Throwable f = b.failure.get() != null ? b.failure.get() : c.failure.get();
        assertThat(f)
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.CONVERSION_DEADLOCK));
    }
}
