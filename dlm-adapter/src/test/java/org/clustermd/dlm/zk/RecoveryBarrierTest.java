package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Recovery is cluster-wide (the Linux DLM stops every node and runs recover_prep everywhere
 * before it recovers anything): a dead member's locks reach nobody before every live member,
 * including one that joined while the death was being recovered, has returned from
 * recover_prep for that death.
 */
class RecoveryBarrierTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(30));
    private TestingServer server;
    private ZkTestSupport nodes;

    @BeforeEach
    void start() throws Exception {
        server = new TestingServer();
        nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() throws Exception {
        nodes.close();
        server.close();
    }

    /** Records callbacks; when armed, its recover_prep waits for {@link #release} (a slow node). */
    static final class Node implements LockSpaceListener {
        final String name;
        final List<String> events = new CopyOnWriteArrayList<>();
        final AtomicBoolean slow = new AtomicBoolean();
        final CountDownLatch release = new CountDownLatch(1);
        final CountDownLatch inPrep = new CountDownLatch(1);
        /** False from recover_prep's entry until it returns. */
        final AtomicBoolean prepReturned = new AtomicBoolean(true);

        Node(String name) {
            this.name = name;
        }

        @Override
        public void recoveryStarted() {
            prepReturned.set(false);
            events.add("prep");
            inPrep.countDown();
            try {
                if (slow.get() && !release.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                    events.add("prep-not-released");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                prepReturned.set(true);
            }
        }

        @Override
        public void memberLost(NodeSlot slot) {
            events.add("lost" + slot.number());
        }

        @Override
        public void recoveryFinished(NodeSlot ours, Set<NodeSlot> members) {
            events.add("done"
                    + members.stream()
                            .map(s -> Integer.toString(s.number()))
                            .sorted()
                            .toList());
        }
    }

    private LockSpace join(Node n) throws Exception {
        return nodes.manager(n.name)
                .join("md0", LockSpaceOptions.of(8).withListener(n).withRequestTimeout(WAIT));
    }

    @Test
    void aDeadMembersLockIsGrantedOnlyAfterEveryLiveMemberAndAJoinerReturnedFromRecoverPrep() throws Exception {
        Node a = new Node("a");
        Node b = new Node("b");
        Node c = new Node("c");
        Node d = new Node("d");
        Node e = new Node("e");
        LockSpace la = join(a);
        LockSpace lb = join(b);
        LockSpace lc = join(c);
        ZkLockManager dm = nodes.manager("d");
        LockSpace ld = dm.join("md0", LockSpaceOptions.of(8).withListener(d).withRequestTimeout(WAIT));
        // e was a member before and left: it comes back to its old slot 4 while d's slot 3 is recovered
        join(e).close();
        assertThat(List.of(la.slot(), lb.slot(), lc.slot(), ld.slot()))
                .containsExactly(new NodeSlot(0), new NodeSlot(1), new NodeSlot(2), new NodeSlot(3));
        ld.resource("r").convert(LockMode.EX);
        CompletableFuture<LockGrant> grant = la.resource("r").convertAsync(LockMode.EX);
        // whoever gets d's lock checks, at the moment the grant reaches it, who has returned from recover_prep
        Map<String, Boolean> returnedAtGrant = new ConcurrentHashMap<>();
        grant.thenRun(() -> {
            for (Node n : List.of(a, b, c, e)) {
                returnedAtGrant.put(n.name, n.prepReturned.get() && n.events.contains("prep"));
            }
        });
        await().atMost(WAIT)
                .until(() -> a.events.contains("done[0, 1, 2, 3]")
                        && b.events.contains("done[0, 1, 2, 3]")
                        && c.events.contains("done[0, 1, 2, 3]"));
        for (Node n : List.of(a, b, c)) {
            n.events.clear();
        }
        c.slow.set(true);

        ZkTestSupport.expire(dm, nodes.connectString);

        assertThat(c.inPrep.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
        await().atMost(WAIT).until(() -> a.events.contains("lost3") && b.events.contains("lost3"));
        LockSpace le = join(e);
        assertThat(le.slot()).isEqualTo(new NodeSlot(4));
        // the joiner gets recover_prep for the death it joined into (or, without the barrier, a already has d's lock)
        await().atMost(WAIT).until(() -> (e.events.contains("prep") && e.prepReturned.get()) || grant.isDone());
        c.release.countDown();

        assertThat(grant.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).mode()).isEqualTo(LockMode.EX);
        await().atMost(WAIT).until(() -> returnedAtGrant.size() == 4);
        assertThat(returnedAtGrant)
                .as("recover_prep returned on each member when d's lock was granted")
                .containsEntry("a", true)
                .containsEntry("b", true)
                .containsEntry("c", true)
                .containsEntry("e", true);
        await().atMost(WAIT).until(() -> e.events.stream().anyMatch(s -> s.startsWith("done")));
        assertThat(e.events).containsSubsequence("prep", "lost3", "done[0, 1, 2, 4]");
        assertThat(c.events).containsSubsequence("prep", "lost3").doesNotContain("prep-not-released");
        // the barrier's marks are gone once the death is recovered
        await().atMost(WAIT)
                .until(() -> nodes.manager("observer")
                        .curator()
                        .getChildren()
                        .forPath(new ZkLockPaths(ZkLockPaths.DEFAULT_ROOT, "c", "md0").recoveries())
                        .isEmpty());
    }

    @Test
    void aMemberThatDiesBeforeItsRecoverPrepReturnedDropsOutOfTheBarrier() throws Exception {
        Node a = new Node("a");
        Node b = new Node("b");
        Node c = new Node("c");
        Node d = new Node("d");
        LockSpace la = join(a);
        join(b);
        ZkLockManager cm = nodes.manager("c");
        LockSpace lc = cm.join("md0", LockSpaceOptions.of(8).withListener(c).withRequestTimeout(WAIT));
        ZkLockManager dm = nodes.manager("d");
        LockSpace ld = dm.join("md0", LockSpaceOptions.of(8).withListener(d).withRequestTimeout(WAIT));
        ld.resource("r").convert(LockMode.EX);
        CompletableFuture<LockGrant> grant = la.resource("r").convertAsync(LockMode.EX);
        List<Set<NodeSlot>> membersAtGrant = new CopyOnWriteArrayList<>();
        grant.thenRun(() -> membersAtGrant.add(la.members()));
        await().atMost(WAIT)
                .until(() -> a.events.contains("done[0, 1, 2, 3]") && c.events.contains("done[0, 1, 2, 3]"));
        c.slow.set(true);
        try {
            ZkTestSupport.expire(dm, nodes.connectString);
            assertThat(c.inPrep.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            await().atMost(WAIT).until(() -> a.events.contains("lost3") && b.events.contains("lost3"));
            // c never returns from recover_prep; its death takes it out of the barrier
            ZkTestSupport.expire(cm, nodes.connectString);
            assertThat(grant.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).mode()).isEqualTo(LockMode.EX);
            await().atMost(WAIT).until(() -> !membersAtGrant.isEmpty());
            assertThat(membersAtGrant.get(0))
                    .as("members when d's lock reached a")
                    .doesNotContain(lc.slot());
        } finally {
            c.release.countDown();
        }
    }

    /**
     * The join check: a purge decided on a view that does not show a member who joined meanwhile
     * fails, and waits for the joiner's recover_prep. The survivors' ZooKeeper event threads are
     * held while the last survivor marks the death and the joiner joins, so both decide on the
     * mark before they see the join.
     */
    @Test
    void aPurgeDecidedBeforeAJoinWaitsForTheJoinersRecoverPrep() throws Exception {
        Node a = new Node("a");
        Node c = new Node("c");
        Node d = new Node("d");
        Node e = new Node("e");
        ZkLockManager am = nodes.manager("a");
        LockSpace la = am.join("md0", LockSpaceOptions.of(8).withListener(a).withRequestTimeout(WAIT));
        ZkLockManager cm = nodes.manager("c");
        LockSpace lc = cm.join("md0", LockSpaceOptions.of(8).withListener(c).withRequestTimeout(WAIT));
        ZkLockManager dm = nodes.manager("d");
        LockSpace ld = dm.join("md0", LockSpaceOptions.of(8).withListener(d).withRequestTimeout(WAIT));
        ld.resource("r").convert(LockMode.EX);
        CompletableFuture<LockGrant> grant = la.resource("r").convertAsync(LockMode.EX);
        Map<String, Boolean> returnedAtGrant = new ConcurrentHashMap<>();
        grant.thenRun(() -> returnedAtGrant.put("e", e.prepReturned.get() && e.events.contains("prep")));
        await().atMost(WAIT).until(() -> a.events.contains("done[0, 1, 2]") && c.events.contains("done[0, 1, 2]"));
        ZkLockManager observer = nodes.manager("observer");
        String marks = new ZkLockPaths(ZkLockPaths.DEFAULT_ROOT, "c", "md0").recoveries();
        c.slow.set(true);
        e.slow.set(true);
        CountDownLatch unblock = new CountDownLatch(1);
        try {
            ZkTestSupport.expire(dm, nodes.connectString);
            assertThat(c.inPrep.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            await().atMost(WAIT)
                    .until(() -> observer.curator().getChildren().forPath(marks).size() == 1); // a's

            holdEventThread(am, observer, "/hold-a", unblock).await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            // c's event thread runs c's recover_prep (callbacks run on the thread that produced them
            // when none is running): it is held right after it, before it sees its own mark
            CountDownLatch cHeld = holdEventThread(cm, observer, "/hold-c", unblock);
            c.release.countDown(); // c marks the death: a and c hold every mark of their view
            assertThat(cHeld.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            await().atMost(WAIT)
                    .until(() -> observer.curator().getChildren().forPath(marks).size() == 2);
            // e joins, and its recover_prep does not return yet (it runs on the joining thread)
            CompletableFuture<LockSpace> joining = CompletableFuture.supplyAsync(() -> {
                try {
                    return join(e);
                } catch (Exception ex) {
                    throw new java.util.concurrent.CompletionException(ex);
                }
            });
            assertThat(e.inPrep.await(WAIT.toMillis(), TimeUnit.MILLISECONDS)).isTrue();
            unblock.countDown();

            // a write of each survivor's after it has seen e: any purge they sent before is settled
            await().atMost(WAIT)
                    .until(() -> lc.members().size() == 3 && la.members().size() == 3);
            lc.resource("settle-c").convert(LockMode.NL);
            la.resource("settle-a").convert(LockMode.NL);
            e.release.countDown();
            assertThat(joining.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).members())
                    .hasSize(3);
            assertThat(grant.get(WAIT.toMillis(), TimeUnit.MILLISECONDS).mode()).isEqualTo(LockMode.EX);
            await().atMost(WAIT).until(() -> !returnedAtGrant.isEmpty());
            assertThat(returnedAtGrant)
                    .as("the joiner's recover_prep had returned when d's lock was granted")
                    .containsEntry("e", true);
        } finally {
            unblock.countDown();
            c.release.countDown();
            e.release.countDown();
        }
    }

    /**
     * Holds {@code m}'s ZooKeeper event thread (which applies its lockspace events) from its next
     * event on until {@code unblock}; the latch returned says it is held.
     */
    private static CountDownLatch holdEventThread(
            ZkLockManager m, ZkLockManager observer, String path, CountDownLatch unblock) throws Exception {
        CountDownLatch held = new CountDownLatch(1);
        m.curator().getZookeeperClient().getZooKeeper().exists(path, event -> {
            held.countDown();
            try {
                unblock.await(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
        });
        observer.curator().create().forPath(path);
        return held;
    }
}
