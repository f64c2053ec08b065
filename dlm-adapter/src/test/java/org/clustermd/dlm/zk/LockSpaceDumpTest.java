package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import org.apache.curator.test.TestingServer;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockValueBlock;
import org.junit.jupiter.api.Test;

class LockSpaceDumpTest {
    @Test
    void dumpShowsMembersGrantedWaitingAndTheValueBlockAndRefusesForeignZnodes() throws Exception {
        try (TestingServer server = new TestingServer();
                ZkTestSupport nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10))) {
            ZkLockManager am = nodes.manager("alpha");
            LockSpace a = am.join("md0", LockSpaceOptions.of(4));
            LockSpace b = nodes.manager("beta").join("md0", LockSpaceOptions.of(4));
            LockResource ra = a.resource("token");
            ra.convert(LockMode.EX);
            byte[] v = new byte[64];
            v[0] = (byte) 0xab;
            ra.setValueBlock(LockValueBlock.of(v));
            ra.convert(LockMode.PR);
            LockResource rb = b.resource("token");
            CompletableFuture<?> waiting = rb.convertAsync(LockMode.EX);
            ZooKeeper zk = am.curator().getZookeeperClient().getZooKeeper();
            org.awaitility.Awaitility.await()
                    .until(() -> LockSpaceDump.read(zk, "/clustermd", "c")
                                    .lockSpaces()
                                    .get(0)
                                    .resources()
                                    .get(0)
                                    .waiting()
                                    .size()
                            == 1);

            LockSpaceDump.Dump d = LockSpaceDump.read(zk, "/clustermd", "c");
            LockSpaceDump.LockSpaceInfo ls = d.lockSpaces().get(0);
            assertThat(ls.name()).isEqualTo("md0");
            assertThat(ls.members()).extracting(LockSpaceDump.Member::nodeName).containsExactly("alpha", "beta");
            assertThat(ls.members()).extracting(LockSpaceDump.Member::slot).containsExactly(0, 1);
            LockSpaceDump.Resource token = ls.resources().get(0);
            assertThat(token.name()).isEqualTo("token");
            assertThat(token.granted()).singleElement().satisfies(l -> {
                assertThat(l.slot()).isZero();
                assertThat(l.granted()).isEqualTo("PR");
            });
            assertThat(token.waiting())
                    .singleElement()
                    .satisfies(l -> assertThat(l.requested()).isEqualTo("EX"));
            assertThat(token.valueBlock()).isEqualTo("ab");
            assertThat(token.valueBlockValid()).isTrue();
            waiting.cancel(true);

            zk.create(
                    "/clustermd/c/ls/md0/res/token/stray",
                    new byte[0],
                    ZooDefs.Ids.OPEN_ACL_UNSAFE,
                    CreateMode.PERSISTENT);
            assertThatThrownBy(() -> LockSpaceDump.read(zk, "/clustermd", "c"))
                    .isInstanceOfSatisfying(
                            DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.CORRUPT_STATE))
                    .hasMessageContaining("/clustermd/c/ls/md0/res/token/stray");
            assertThatThrownBy(() -> LockSpaceDump.read(zk, "/clustermd", "nosuch"))
                    .isInstanceOfSatisfying(
                            DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.NOT_FOUND))
                    .hasMessageContaining("no cluster 'nosuch'");
        }
    }
}
