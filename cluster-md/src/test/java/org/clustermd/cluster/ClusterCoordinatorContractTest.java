package org.clustermd.cluster;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.UUID;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ClusterOperations;
import org.clustermd.raid1.ClusterOperationsContractTest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;

/** raid1-engine's {@link ClusterOperationsContractTest} against {@link ClusterCoordinator} on a real ZooKeeper. */
class ClusterCoordinatorContractTest extends ClusterOperationsContractTest {
    @TempDir
    static Path dir;

    private static EmbeddedZooKeeper zk;
    private static int made;

    @BeforeAll
    static void startZooKeeper() throws Exception {
        zk = EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
    }

    @AfterAll
    static void stopZooKeeper() {
        if (zk != null) zk.close();
    }

    @Override
    protected ClusterOperations createOperations(UUID arrayUuid, String clusterName) {
        return ClusterCoordinator.builder()
                .connectString(zk.connectString())
                .nodeName("contract-" + made++)
                .sessionTimeout(Duration.ofSeconds(4))
                .requestTimeout(Duration.ofSeconds(10))
                .build();
    }
}
