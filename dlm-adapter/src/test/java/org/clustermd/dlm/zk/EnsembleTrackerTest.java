package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.server.EmbeddedZooKeeperEnsemble;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.testing.TcpProxy;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 8 item 6: behind a proxy, Curator's ensemble tracker replaces the configured connect
 * string with the client addresses the servers announce (which the node may not reach);
 * {@code ensembleTracker(false)} keeps the configured one.
 */
class EnsembleTrackerTest {
    private static final Duration SESSION = Duration.ofSeconds(6);
    private final Timing timing = new Timing();

    @TempDir
    Path dir;

    @Test
    void withTheTrackerOffTheConfiguredConnectStringIsKept() throws Exception {
        try (EmbeddedZooKeeperEnsemble ensemble = new EmbeddedZooKeeperEnsemble(dir, 3, ZooKeeperSettings.forTests())) {
            ensemble.start(timing.multiple(6).duration());
            try (TcpProxy proxy = TcpProxy.start(ensemble.clientPort(0))) {
                String viaProxy = proxy.connectString();
                ZkLockManager untracked = ZkLockManager.builder()
                        .connectString(viaProxy)
                        .cluster("c")
                        .nodeName("off")
                        .sessionTimeout(SESSION)
                        .ensembleTracker(false)
                        .build();
                ZkLockManager tracked = ZkLockManager.builder()
                        .connectString(viaProxy)
                        .cluster("c")
                        .nodeName("on")
                        .sessionTimeout(SESSION)
                        .build();
                try {
                    // the tracker works here: the default client takes the servers' own addresses
                    timing.waitFor(
                            "the tracking client follows the ensemble's configuration",
                            () -> !current(tracked).equals(viaProxy));
                    assertThat(current(tracked)).contains(ensemble.connectString(1));

                    assertThat(current(untracked)).isEqualTo(viaProxy);
                    // and it still works through the proxy
                    LockResource r =
                            untracked.join("md0", LockSpaceOptions.of(4)).resource("token");
                    r.convert(LockMode.EX);
                    assertThat(current(untracked)).isEqualTo(viaProxy);
                } finally {
                    tracked.close();
                    untracked.close();
                }
            }
        }
    }

    private static String current(ZkLockManager m) {
        return m.curator().getZookeeperClient().getCurrentConnectionString();
    }
}
