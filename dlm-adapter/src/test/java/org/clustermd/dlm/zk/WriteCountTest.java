package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.junit.jupiter.api.Test;

/**
 * docs/design.md §3: an uncontended lock or convert costs one ZooKeeper write. Every committed write is
 * one zxid, so the zxid distance between two marker creates counts the writes in between.
 */
class WriteCountTest {
    @Test
    void uncontendedRequestsConversionsAndUnlocksAreOneWriteEach() throws Exception {
        try (TestingServer server = new TestingServer();
                ZkTestSupport nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10))) {
            ZkLockManager m = nodes.manager("a");
            LockSpace ls = m.join("md0", LockSpaceOptions.of(4));
            LockResource r = ls.resource("token");
            ZooKeeper zk = m.curator().getZookeeperClient().getZooKeeper();
            zk.create("/marker", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);

            assertThat(writes(zk, () -> r.convert(LockMode.EX))).as("lock EX").isEqualTo(1);
            assertThat(writes(zk, () -> r.convert(LockMode.PR)))
                    .as("down-convert")
                    .isEqualTo(1);
            assertThat(writes(zk, () -> r.convert(LockMode.PW)))
                    .as("up-convert")
                    .isEqualTo(1);
            assertThat(writes(zk, () -> r.convert(LockMode.PW)))
                    .as("PW->PW republish")
                    .isEqualTo(1);
            assertThat(writes(zk, () -> r.convert(LockMode.PW))).as("republish").isEqualTo(1);
            assertThat(writes(zk, r::unlock)).as("unlock").isEqualTo(1);
            assertThat(writes(zk, () -> r.convert(LockMode.CR))).as("lock CR").isEqualTo(1);
            assertThat(writes(zk, () -> r.convert(LockMode.CR)))
                    .as("CR->CR reads only")
                    .isEqualTo(0);
        }
    }

    interface Op {
        void run() throws Exception;
    }

    private static long writes(ZooKeeper zk, Op op) throws Exception {
        long before = marker(zk);
        op.run();
        return marker(zk) - before - 1;
    }

    private static long marker(ZooKeeper zk) throws Exception {
        String p = zk.create("/marker", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_SEQUENTIAL);
        return zk.exists(p, false).getCzxid();
    }
}
