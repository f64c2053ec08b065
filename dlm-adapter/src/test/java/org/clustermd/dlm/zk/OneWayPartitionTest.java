package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.EmbeddedZooKeeperEnsemble;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.testing.TcpProxy;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8: only what the holder sends is lost, while everything the server sends (other
 * members' watch notifications, from a member that keeps locking) still reaches it. ZooKeeper's
 * client judges the link by what it receives, so it never notices; the server hears nothing and
 * expires the session a timeout later, and another member is granted the holder's EX. The
 * holder's belief must end first: at its own SUSPENDED, no later than its lease deadline, and
 * what it last saw as a valid lease (as the engine checks before each write) must end before the
 * server expired it. The belief ends there, never at anything the test does.
 *
 * <p>Once on one server (tickTime 250 ms), once at the worst timing ZooKeeper allows: a
 * three-server ensemble with tickTime = half the session timeout, the holder on a follower (whose
 * touches reach the leader only on its reply to the leader's next ping, every half tick).
 */
class OneWayPartitionTest {
    private static final Duration SESSION = Duration.ofSeconds(4);
    private final Timing timing = new Timing();

    @TempDir
    Path dir;

    @Test
    void aOneWayCutUnderLoadFencesTheHolderAtItsLeaseBeforeTheServerExpiresIt() throws Exception {
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir, 0, ZooKeeperSettings.forTests());
                TcpProxy proxy = TcpProxy.start(server.clientPort())) {
            run(proxy, server.connectString());
        }
    }

    @Test
    void theSameAtTheWorstTickOnAnEnsembleWithTheHolderOnAFollower() throws Exception {
        int tick = (int) SESSION.toMillis() / 2;
        ZooKeeperSettings worst = ZooKeeperSettings.forTests().toBuilder()
                .tickTimeMs(tick)
                .sessionTimeoutRangeMs(2 * tick, 60_000)
                .build();
        try (EmbeddedZooKeeperEnsemble ensemble = new EmbeddedZooKeeperEnsemble(dir, 3, worst)) {
            ensemble.start(timing.multiple(6).duration());
            timing.multiple(3).waitFor("a leader", () -> ensemble.leaderIndex() >= 0);
            int leader = ensemble.leaderIndex();
            int follower = leader == 0 ? 1 : 0;
            int other = 3 - leader - follower;
            try (TcpProxy proxy = TcpProxy.start(ensemble.clientPort(follower))) {
                run(proxy, ensemble.connectString(other));
            }
        }
    }

    private void run(TcpProxy proxy, String othersConnect) throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        AtomicReference<LockSpace> holderRef = new AtomicReference<>();
        AtomicLong suspendedAt = new AtomicLong();
        AtomicLong deadlineAtSuspended = new AtomicLong();
        AtomicLong expirySeenAt = new AtomicLong();
        AtomicLong grantedAt = new AtomicLong();
        AtomicLong lastValid = new AtomicLong();
        AtomicBoolean running = new AtomicBoolean(true);
        AtomicBoolean cut = new AtomicBoolean();
        List<Thread> threads = new CopyOnWriteArrayList<>();
        LockSpaceListener holderListener = new LockSpaceListener() {
            @Override
            public void stateChanged(LockSpaceState s) {
                if (s == LockSpaceState.SUSPENDED && cut.get() && suspendedAt.get() == 0) {
                    // the deadline first: it is what the holder was promised when it was told
                    deadlineAtSuspended.set(holderRef.get().leaseDeadlineNanos());
                    suspendedAt.set(System.nanoTime());
                }
                events.add("a:" + s);
            }
        };
        LockSpaceListener waiterListener = new LockSpaceListener() {
            @Override
            public void memberLost(NodeSlot slot) {
                expirySeenAt.compareAndSet(0, System.nanoTime());
                events.add("b:memberLost");
            }
        };
        LockSpaceOptions options =
                LockSpaceOptions.of(4).withRequestTimeout(timing.forWaiting().duration());
        try (ZkTestSupport victim = new ZkTestSupport(proxy.connectString(), SESSION).withoutEnsembleTracker();
                ZkTestSupport others = new ZkTestSupport(othersConnect, SESSION)) {
            LockSpace a = victim.manager("a").join("md0", options.withListener(holderListener));
            holderRef.set(a);
            LockSpace b = others.manager("b").join("md0", options.withListener(waiterListener));
            LockSpace c = others.manager("c").join("md0", options);
            LockResource token = a.resource("token");
            token.convert(LockMode.EX);
            assertThat(a.awaitLease(timing.duration())).isTrue();
            CompletableFuture<LockGrant> waiting = b.resource("token").convertAsync(LockMode.EX);
            waiting.thenRun(() -> {
                grantedAt.set(System.nanoTime());
                events.add("b:granted");
            });

            // c keeps locking: a stream of notifications to every member, a included
            LockResource load = c.resource("load");
            threads.add(start("load", () -> {
                while (running.get()) {
                    try {
                        load.convert(LockMode.EX);
                        load.unlock();
                    } catch (DlmException e) {
                        sleep(10);
                    }
                }
            }));
            // a's writer: what a last saw as a valid lease is where its writes would stop
            threads.add(start("holder-writer", () -> {
                while (running.get()) {
                    if (a.leaseValid()) {
                        lastValid.set(System.nanoTime());
                    }
                    sleep(1);
                }
            }));
            // a steady state: renewals confirmed, the first lease (from the connect) replaced
            Thread.sleep(SESSION.toMillis());
            assertThat(a.state()).isEqualTo(LockSpaceState.ACTIVE);
            assertThat(waiting).isNotDone();

            events.add("cut");
            long cutAt = System.nanoTime();
            cut.set(true);
            proxy.cutClientToServer();
            LockGrant g =
                    waiting.get(timing.forWaiting().milliseconds() + SESSION.toMillis() * 3, TimeUnit.MILLISECONDS);
            timing.waitFor("b saw a's session expire", () -> expirySeenAt.get() != 0);
            running.set(false);
            for (Thread t : threads) {
                t.join(timing.milliseconds());
            }
            System.out.printf(
                    "one-way cut: a SUSPENDED at %.3f T (deadline %.3f T, last valid %.3f T),"
                            + " b saw the expiry at %.3f T, b granted at %.3f T%n",
                    frac(suspendedAt.get() - cutAt),
                    frac(deadlineAtSuspended.get() - cutAt),
                    frac(lastValid.get() - cutAt),
                    frac(expirySeenAt.get() - cutAt),
                    frac(grantedAt.get() - cutAt));

            assertThat(g.mode()).isEqualTo(LockMode.EX);
            assertThat(suspendedAt.get()).as("a was told SUSPENDED").isNotZero();
            assertThat(events).containsSubsequence("cut", "a:SUSPENDED", "b:memberLost", "b:granted");
            assertThat(suspendedAt.get() - deadlineAtSuspended.get())
                    .as("SUSPENDED no later than the lease deadline")
                    .isLessThanOrEqualTo(0);
            assertThat(deadlineAtSuspended.get() - expirySeenAt.get())
                    .as("the lease ends before the server expires a")
                    .isNegative();
            assertThat(lastValid.get() - grantedAt.get())
                    .as("a's belief ends before b's begins")
                    .isNegative();
            assertThat(lastValid.get() - expirySeenAt.get()).isNegative();
            assertThat(a.leaseValid()).isFalse();
            assertThat(g.fencingToken()).isGreaterThan(token.fencingToken());

            // healed: a's session is gone for good
            proxy.restore();
            timing.forWaiting().waitFor("a lost", () -> a.state() == LockSpaceState.LOST);
            assertThat(token.grantedMode()).isEmpty();
        } finally {
            running.set(false);
            for (Thread t : threads) {
                t.join(timing.milliseconds());
            }
        }
    }

    private static double frac(long nanos) {
        return nanos / (double) SESSION.toNanos();
    }

    private static Thread start(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
