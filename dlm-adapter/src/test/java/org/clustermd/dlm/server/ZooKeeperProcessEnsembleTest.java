package org.clustermd.dlm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;

// ZooKeeper.close() declares InterruptedException; try-with-resources on it is intended
@SuppressWarnings("try")
class ZooKeeperProcessEnsembleTest {
    private final Timing timing = new Timing(Duration.ofSeconds(60));

    @Test
    void separateServerProcessesSurviveALeaderKillAndAFrozenFollowerAndAreAllGoneAfterClose() throws Exception {
        List<Long> pids = new ArrayList<>();
        Path base;
        try (ZooKeeperProcessEnsemble ensemble = ZooKeeperProcessEnsemble.builder(3)
                .settings(ZooKeeperSettings.forTests())
                .build()) {
            base = ensemble.baseDir();
            ensemble.start(timing.duration());
            for (int i = 0; i < 3; i++) {
                pids.add(ensemble.pid(i));
                assertThat(ProcessHandle.of(ensemble.pid(i)))
                        .as("process of server " + i)
                        .isPresent();
            }
            timing.waitFor("a leader", () -> ensemble.leaderIndex() >= 0);
            int leader = ensemble.leaderIndex();

            try (ZooKeeper zk = ZooKeeperClients.connect(ensemble.connectString(), 20_000, timing)) {
                zk.create(
                        "/before",
                        "1".getBytes(StandardCharsets.UTF_8),
                        ZooDefs.Ids.OPEN_ACL_UNSAFE,
                        CreateMode.PERSISTENT);

                ensemble.kill(leader);
                assertThat(ensemble.isAlive(leader)).isFalse();
                timing.waitFor("a write after SIGKILL of the leader", () -> ZooKeeperClients.create(zk, "/after-kill"));
                int newLeader = ensemble.leaderIndex();
                assertThat(newLeader).isNotEqualTo(leader);

                ensemble.restart(leader);
                timing.waitFor("the restarted server follows", () -> "follower".equals(ensemble.mode(leader)));

                timing.waitFor("a leader that answers srvr", () -> ensemble.leaderIndex() >= 0);
                int follower = otherThan(leader, ensemble.leaderIndex());
                ensemble.stop(follower);
                assertThat(ensemble.isAlive(follower)).isTrue();
                assertThat(ensemble.mode(follower))
                        .as("a frozen server answers nothing")
                        .isNull();
                timing.waitFor(
                        "a write while a follower is frozen", () -> ZooKeeperClients.create(zk, "/while-frozen"));
                ensemble.cont(follower);
                timing.waitFor("the thawed server serves again", () -> ensemble.mode(follower) != null);
            }
            try (ZooKeeper direct = ZooKeeperClients.connect(ensemble.connectString(leader), timing)) {
                timing.waitFor(
                        "every znode on the restarted server", () -> direct.exists("/while-frozen", false) != null);
                assertThat(new String(direct.getData("/before", false, null), StandardCharsets.UTF_8))
                        .isEqualTo("1");
            }
            assertThat(ensemble.logFile(0)).content().contains("QuorumPeerMain");
        }
        for (long pid : pids) {
            assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false))
                    .as("pid " + pid + " after close")
                    .isFalse();
        }
        assertThat(base).doesNotExist();
    }

    private static int otherThan(int a, int b) {
        for (int i = 0; i < 3; i++) {
            if (i != a && i != b) {
                return i;
            }
        }
        throw new AssertionError("no third server");
    }
}
