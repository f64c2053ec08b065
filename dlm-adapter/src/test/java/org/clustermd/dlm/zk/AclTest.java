package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;

/** docs/lessons.md §35: ZooKeeper ACLs are per znode and open by default: every znode needs its own. */
class AclTest {
    @Test
    void anUnauthenticatedClientGetsNoAuthOnEveryZnode() throws Exception {
        try (TestingServer server = new TestingServer();
                ZkTestSupport nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10))) {
            DlmCredentials creds = DlmCredentials.digest("clustermd", "s3cret");
            ZkLockManager m = nodes.manager("a", "secure", creds);
            LockSpace ls = m.join("md0", LockSpaceOptions.of(4));
            ls.resource("token").convert(LockMode.EX);
            ls.resource("message").convert(LockMode.CR);

            // list every znode we wrote, as the authenticated client
            ZooKeeper authed = m.curator().getZookeeperClient().getZooKeeper();
            List<String> all = new ArrayList<>();
            collect(authed, "/clustermd", all);
            assertThat(all).hasSizeGreaterThan(10);
            for (String p : all) {
                List<ACL> acl = authed.getACL(p, null);
                assertThat(acl).as(p).hasSize(1);
                assertThat(acl.get(0).getId().getScheme()).as(p).isEqualTo("digest");
            }

            ZooKeeper anon = connect(server.getConnectString());
            try {
                for (String p : all) {
                    assertThatThrownBy(() -> anon.getData(p, false, null))
                            .as("read " + p)
                            .isInstanceOf(KeeperException.NoAuthException.class);
                    assertThatThrownBy(() -> anon.getChildren(p, false))
                            .as("list " + p)
                            .isInstanceOf(KeeperException.NoAuthException.class);
                    assertThatThrownBy(() -> anon.setData(p, new byte[1], -1))
                            .as("write " + p)
                            .isInstanceOf(KeeperException.NoAuthException.class);
                    assertThatThrownBy(() -> anon.create(
                                    p + "/x", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT))
                            .as("create under " + p)
                            .isInstanceOf(KeeperException.NoAuthException.class);
                }
            } finally {
                anon.close();
            }

            // a node with the wrong password cannot join either
            ZkLockManager wrong = nodes.manager("b", "secure", DlmCredentials.digest("clustermd", "guess"));
            assertThatThrownBy(() -> wrong.join("md0", LockSpaceOptions.of(4)))
                    .isInstanceOfSatisfying(
                            DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.NO_AUTH));
        }
    }

    private static void collect(ZooKeeper zk, String path, List<String> out) throws Exception {
        out.add(path);
        for (String c : zk.getChildren(path, false)) {
            collect(zk, path + "/" + c, out);
        }
    }

    private static ZooKeeper connect(String cs) throws Exception {
        CountDownLatch l = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(cs, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                l.countDown();
            }
        });
        assertThat(l.await(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        return zk;
    }
}
