package org.clustermd.dlm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

// ZooKeeper.close() declares InterruptedException; try-with-resources on it is intended
@SuppressWarnings("try")
class EmbeddedZooKeeperEnsembleTest {
    private final Timing timing = new Timing(Duration.ofSeconds(30));

    @TempDir
    Path dir;

    @Test
    void aThreeServerEnsembleKeepsServingWhenItsLeaderIsKilledAndTheLeaderRejoins() throws Exception {
        LiveThreads threads = LiveThreads.snapshot();
        try (EmbeddedZooKeeperEnsemble ensemble = new EmbeddedZooKeeperEnsemble(dir, 3, ZooKeeperSettings.forTests())) {
            ensemble.start(timing.duration());
            assertThat(ensemble.connectString().split(",")).hasSize(3).allMatch(a -> a.startsWith("127.0.0.1:"));
            timing.waitFor("a leader", () -> ensemble.leaderIndex() >= 0);
            int leader = ensemble.leaderIndex();
            assertThat(ensemble.roles()).filteredOn("leading"::equals).hasSize(1);

            try (ZooKeeper zk = ZooKeeperClients.connect(ensemble.connectString(), 15_000, timing)) {
                zk.create(
                        "/before",
                        "1".getBytes(StandardCharsets.UTF_8),
                        ZooDefs.Ids.OPEN_ACL_UNSAFE,
                        CreateMode.PERSISTENT);

                ensemble.killServer(leader);
                assertThat(ensemble.isRunning(leader)).isFalse();
                ensemble.awaitQuorum(timing.duration());
                timing.waitFor("a write after the leader was killed", () -> ZooKeeperClients.create(zk, "/after"));
                timing.waitFor("a new leader", () -> ensemble.leaderIndex() >= 0);
                assertThat(ensemble.leaderIndex()).isNotEqualTo(leader);

                ensemble.restartServer(leader);
                timing.waitFor(
                        "the old leader follows",
                        () -> "following".equals(ensemble.roles().get(leader)));
            }
            // the restarted server has every znode, read through it alone
            try (ZooKeeper direct = ZooKeeperClients.connect(ensemble.connectString(leader), timing)) {
                direct.sync("/", (rc, path, ctx) -> {}, null);
                timing.waitFor(
                        "/after replicated to the restarted server", () -> direct.exists("/after", false) != null);
                assertThat(new String(direct.getData("/before", false, null), StandardCharsets.UTF_8))
                        .isEqualTo("1");
            }
        }
        assertThat(threads.newServerThreads()).as("threads left after close").isEmpty();
    }

    @Test
    void losingTheQuorumStopsWritesAndRestartingAServerBringsThemBack() throws Exception {
        try (EmbeddedZooKeeperEnsemble ensemble = new EmbeddedZooKeeperEnsemble(dir, 3, ZooKeeperSettings.forTests())) {
            ensemble.start(timing.duration());
            ensemble.killServer(0);
            ensemble.killServer(1);
            EmbeddedServerException noQuorum = org.junit.jupiter.api.Assertions.assertThrows(
                    EmbeddedServerException.class, () -> ensemble.awaitQuorum(Duration.ofSeconds(2)));
            assertThat(noQuorum.code()).isEqualTo(EmbeddedServerException.Code.NOT_SERVING);
            ensemble.restartServer(1);
            ensemble.awaitQuorum(timing.duration());
            assertThat(ensemble.isRunning(0)).isFalse();
            assertThat(ensemble.isRunning(1)).isTrue();
        }
    }
}
