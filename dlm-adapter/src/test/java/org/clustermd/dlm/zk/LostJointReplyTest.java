package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.testing.TcpProxy;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A joint write whose reply a connection loss took is settled from the view re-read after the
 * same session resumes, every part alike, since the transaction committed whole or not at all
 * (package documentation, "A joint transaction"): the lockspace neither believes in a part that is
 * not on the server nor misses one that is, and the caller learns each part's outcome. Member a
 * talks to the server through a proxy that loses the reply (the server's direction held, then the
 * connection dropped: the write took effect) or the write itself (the client's direction held,
 * then dropped: it never reached the server); b and the dump read the server directly.
 */
class LostJointReplyTest {
    private final Timing timing = new Timing();
    private final List<LockSpaceState> states = new CopyOnWriteArrayList<>();

    @TempDir
    Path dir;

    private EmbeddedZooKeeper server;
    private TcpProxy proxy;
    private ZkTestSupport victim;
    private ZkTestSupport others;
    private ZkLockSpace a;
    private LockSpace b;
    private ZooKeeper reader;

    @BeforeEach
    void start() throws Exception {
        server = EmbeddedZooKeeper.start(dir, 0, ZooKeeperSettings.forTests());
        proxy = TcpProxy.start(server.clientPort());
        victim = new ZkTestSupport(proxy.connectString(), Duration.ofSeconds(10)).withoutEnsembleTracker();
        others = new ZkTestSupport(server.connectString(), Duration.ofSeconds(10));
        LockSpaceOptions options =
                LockSpaceOptions.of(4).withRequestTimeout(timing.forWaiting().duration());
        a = (ZkLockSpace) victim.manager("a").join("md0", options.withListener(new LockSpaceListener() {
            @Override
            public void stateChanged(LockSpaceState s) {
                states.add(s);
            }
        }));
        ZkLockManager mb = others.manager("b");
        b = mb.join("md0", options);
        reader = mb.curator().getZookeeperClient().getZooKeeper();
        assertThat(a.awaitLease(timing.duration())).isTrue();
    }

    @AfterEach
    void stop() {
        try {
            if (victim != null) victim.close();
            if (others != null) others.close();
        } finally {
            try {
                if (proxy != null) proxy.close();
            } finally {
                if (server != null) server.close();
            }
        }
    }

    @Test
    void aCommittedJointWriteWhoseReplyWasLostIsBelievedPartByPartAsWritten() throws Exception {
        LockResource peerAck = b.resource("ack");
        peerAck.convert(LockMode.CR);
        LockResource token = a.resource("token");
        LockResource ack = a.resource("ack");
        WriteStats stats = a.writeStats();

        proxy.cutServerToClient(); // the write reaches the server, its events and reply do not come back
        List<CompletableFuture<LockGrant>> parts =
                JointRequest.start(a, List.of(Conversion.now(token, LockMode.EX), Conversion.queued(ack, LockMode.EX)));
        timing.waitFor(
                "the joint write committed: token EX granted, ack EX queued behind b's CR",
                () -> aOnServer("token").equals(List.of("EX/"))
                        && aOnServer("ack").equals(List.of("UN/EX")));
        assertThat(parts).as("a heard nothing of it").noneMatch(CompletableFuture::isDone);
        long writes = stats.plainWrites() + stats.casWrites();

        loseTheConnectionAndResume();

        // token: granted by the lost write. The completion may be refused (it reached the caller
        // after SUSPENDED), but then the handle says it is held, as the contract has it
        CompletableFuture<LockGrant> tokenPart = parts.get(0);
        tokenPart.handle((g, e) -> null).get(timing.milliseconds(), TimeUnit.MILLISECONDS);
        System.out.println("lost joint reply: the token part's completion "
                + (tokenPart.isCompletedExceptionally() ? "was refused: " + outcome(tokenPart) : "was delivered"));
        if (tokenPart.isCompletedExceptionally()) {
            assertThat(outcome(tokenPart))
                    .isInstanceOfSatisfying(
                            DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.SUSPENDED));
        } else {
            assertThat(tokenPart.join().mode()).isEqualTo(LockMode.EX);
        }
        assertThat(token.grantedMode())
                .as("token EX is on the server, so a holds it")
                .contains(LockMode.EX);
        assertThat(token.requestedMode()).isEmpty();
        assertThat(token.fencingToken()).isPositive();
        // ack: queued by the lost write, and still waiting for b's CR
        assertThat(parts.get(1)).as("ack EX still waits in its queue").isNotDone();
        assertThat(ack.requestedMode()).contains(LockMode.EX);
        assertThat(ack.awaitNoRequest(Duration.ofMillis(100)))
                .as("a request is pending on ack")
                .isFalse();
        assertThat(token.awaitNoRequest(timing.duration())).as("none on token").isTrue();
        assertThat(ack.grantedMode()).isEmpty();
        assertThat(stats.plainWrites() + stats.casWrites())
                .as("nothing written again: the lost write was found on the server")
                .isEqualTo(writes);
        assertThat(aOnServer("token")).isEqualTo(List.of("EX/"));
        assertThat(aOnServer("ack")).isEqualTo(List.of("UN/EX"));
        assertViewIsTheServers("token", "ack");

        peerAck.convert(LockMode.NL); // the queued part is granted as any queued request
        assertThat(ack.awaitNoRequest(timing.duration())).isTrue();
        assertThat(ack.grantedMode()).as("published by the time the wait ends").contains(LockMode.EX);
        LockGrant ackGrant = parts.get(1).get(timing.milliseconds(), TimeUnit.MILLISECONDS);
        assertThat(ackGrant.mode()).isEqualTo(LockMode.EX);
        assertThat(ackGrant.fencingToken()).isGreaterThan(token.fencingToken());
        assertThat(ack.grantedMode()).contains(LockMode.EX);
        assertThat(aOnServer("ack")).isEqualTo(List.of("EX/"));
        assertViewIsTheServers("token", "ack");
    }

    @Test
    void aJointWriteThatNeverReachedTheServerIsWrittenAgainWhole() throws Exception {
        LockResource token = a.resource("token");
        LockResource message = a.resource("message");
        WriteStats stats = a.writeStats();
        long before = stats.plainWrites() + stats.casWrites();

        proxy.cutClientToServer(); // the write is held on its way, and goes with the connection
        List<CompletableFuture<LockGrant>> parts = JointRequest.start(
                a, List.of(Conversion.now(token, LockMode.EX), Conversion.now(message, LockMode.EX)));
        timing.waitFor("the joint write submitted", () -> stats.plainWrites() + stats.casWrites() > before);
        assertThat(aOnServer("token")).isEmpty();
        assertThat(aOnServer("message")).isEmpty();

        loseTheConnectionAndResume();

        List<LockGrant> grants = List.of(
                parts.get(0).get(timing.milliseconds(), TimeUnit.MILLISECONDS),
                parts.get(1).get(timing.milliseconds(), TimeUnit.MILLISECONDS));
        assertThat(grants).extracting(LockGrant::mode).containsExactly(LockMode.EX, LockMode.EX);
        assertThat(grants.get(0).fencingToken())
                .as("both parts granted by one transaction: written again whole, not part by part")
                .isPositive()
                .isEqualTo(grants.get(1).fencingToken());
        assertThat(token.grantedMode()).contains(LockMode.EX);
        assertThat(message.grantedMode()).contains(LockMode.EX);
        assertThat(aOnServer("token")).isEqualTo(List.of("EX/"));
        assertThat(aOnServer("message")).isEqualTo(List.of("EX/"));
        assertViewIsTheServers("token", "message");
    }

    /** Drops a's connection (and whatever the proxy held), and waits for the same session to resume. */
    private void loseTheConnectionAndResume() throws Exception {
        long session = a.incarnation();
        proxy.drop();
        proxy.restore();
        timing.forWaiting()
                .waitFor(
                        "a suspended and resumed",
                        () -> states.contains(LockSpaceState.SUSPENDED)
                                && states.lastIndexOf(LockSpaceState.ACTIVE) > states.indexOf(LockSpaceState.SUSPENDED)
                                && a.state() == LockSpaceState.ACTIVE);
        assertThat(a.manager.curator().getZookeeperClient().getZooKeeper().getSessionId())
                .as("the same session")
                .isEqualTo(session);
    }

    /** a's locks on {@code resource} on the server, as "granted/requested" (UN: a new request). */
    private List<String> aOnServer(String resource) throws DlmException {
        return serverLocks(resource).stream()
                .filter(l -> l.slot() == a.slot().number())
                .map(l -> l.granted() + "/" + l.requested())
                .toList();
    }

    private List<LockSpaceDump.Lock> serverLocks(String resource) throws DlmException {
        for (LockSpaceDump.Resource r : LockSpaceDump.read(reader, "/clustermd", "c")
                .lockSpaces()
                .get(0)
                .resources()) {
            if (r.name().equals(resource)) {
                return Stream.of(r.granted(), r.converting(), r.waiting())
                        .flatMap(List::stream)
                        .toList();
            }
        }
        return List.of();
    }

    /** a's replica of each resource names exactly the znodes the server holds. */
    private void assertViewIsTheServers(String... resources) throws DlmException {
        for (String r : resources) {
            Set<String> view = a.tables().getOrDefault(r, List.of()).stream()
                    .map(LockEntry::znode)
                    .collect(Collectors.toSet());
            Set<String> onServer =
                    serverLocks(r).stream().map(LockSpaceDump.Lock::znode).collect(Collectors.toSet());
            assertThat(view).as("a's view of " + r).isEqualTo(onServer);
        }
    }

    private static Throwable outcome(CompletableFuture<?> f) {
        try {
            f.join();
            return null;
        } catch (CompletionException e) {
            return e.getCause();
        }
    }
}
