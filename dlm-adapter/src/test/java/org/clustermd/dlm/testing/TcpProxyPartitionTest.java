package org.clustermd.dlm.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A ZooKeeper client behind the proxy sees a cut as a silent partition and a drop as a closed socket. */
class TcpProxyPartitionTest {
    private final Timing timing = new Timing();

    @TempDir
    Path dir;

    @Test
    void aCutLinkDisconnectsTheClientByTimeoutAndRestoreResumesTheSameSession() throws Exception {
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir, 0, ZooKeeperSettings.forTests());
                TcpProxy proxy = TcpProxy.start(server.clientPort())) {
            List<KeeperState> states = new CopyOnWriteArrayList<>();
            ZooKeeper zk = new ZooKeeper(proxy.connectString(), 6_000, e -> states.add(e.getState()));
            try {
                timing.waitFor("connected through the proxy", () -> states.contains(KeeperState.SyncConnected));
                long session = zk.getSessionId();

                proxy.cut();
                timing.waitFor("the client notices the partition", () -> states.contains(KeeperState.Disconnected));
                states.clear();
                proxy.restore();
                timing.waitFor("reconnected", () -> states.contains(KeeperState.SyncConnected));
                assertThat(states).doesNotContain(KeeperState.Expired);
                assertThat(zk.getSessionId()).isEqualTo(session);

                states.clear();
                proxy.drop();
                timing.waitFor("the client sees the dropped socket", () -> states.contains(KeeperState.Disconnected));
                timing.waitFor("reconnected after the drop", () -> states.contains(KeeperState.SyncConnected));
                assertThat(zk.getSessionId()).isEqualTo(session);
                assertThat(zk.exists("/", false)).isNotNull();
            } finally {
                zk.close();
            }
        }
    }
}
