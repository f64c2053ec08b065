package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.server.EmbeddedZooKeeperEnsemble;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/lessons.md §53: an uncontended grant completes from the watch event of the transaction
 * that granted it, before that transaction's reply is handled, on a single server and on a
 * follower of three. The reply could prove the grant only later than the event already does, so
 * there is no round trip left to save by completing on the reply. docs/lessons.md §71: an unlock
 * completes the same way, from the event of its delete.
 */
class GrantBeforeReplyTest {
    private static final int ROUNDS = 20;
    /** EX, down to PR, up to PW, PW republished: four grants a round, then an unlock. */
    private static final int GRANTS_PER_ROUND = 4;

    @TempDir
    Path dir;

    @Test
    void everyUncontendedGrantCompletesBeforeItsReplyOnOneServer() throws Exception {
        try (TestingServer server = new TestingServer();
                ZkTestSupport nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10))) {
            assertEveryGrantBeforeReply(nodes);
        }
    }

    @Test
    void everyUncontendedGrantCompletesBeforeItsReplyOnAFollowerOfThree() throws Exception {
        try (EmbeddedZooKeeperEnsemble ensemble = new EmbeddedZooKeeperEnsemble(dir, 3, ZooKeeperSettings.forTests())) {
            ensemble.start();
            int follower = ensemble.leaderIndex() == 0 ? 1 : 0;
            try (ZkTestSupport nodes = new ZkTestSupport(ensemble.connectString(follower), Duration.ofSeconds(10))
                    .withoutEnsembleTracker()) {
                assertEveryGrantBeforeReply(nodes);
            }
        }
    }

    private static void assertEveryGrantBeforeReply(ZkTestSupport nodes) throws Exception {
        ZkLockSpace ls = (ZkLockSpace) nodes.manager("a").join("md0", LockSpaceOptions.of(4));
        LockResource r = ls.resource("token");
        long before = ls.writeStats().grantsBeforeReply();
        long unlocksBefore = ls.writeStats().unlocksBeforeReply();
        for (int i = 0; i < ROUNDS; i++) {
            r.convert(LockMode.EX);
            r.convert(LockMode.PR);
            r.convert(LockMode.PW);
            r.convert(LockMode.PW);
            r.unlock();
        }
        assertThat(ls.writeStats().grantsBeforeReply() - before)
                .as("grants completed from their own transaction's event while its reply was on its way")
                .isEqualTo((long) ROUNDS * GRANTS_PER_ROUND);
        assertThat(ls.writeStats().unlocksBeforeReply() - unlocksBefore)
                .as("unlocks completed from their delete's event while its reply was on its way")
                .isEqualTo(ROUNDS);
        assertThat(r.grantedMode()).as("the last unlock left nothing held").isEmpty();
        assertThat(ls.writeStats().conflicts()).isZero();
    }
}
