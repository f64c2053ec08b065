package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.StampedBlock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An embedder's own lock manager ({@code ClusterCoordinator.Builder.lockManager}): the coordinator
 * joins through it, leaves its lockspace at close and leaves the manager to its owner; a manager
 * of another cluster than the bitmap names is refused at join, as the DLM refuses it.
 */
class GivenLockManagerTest {
    @TempDir
    Path dir;

    @Test
    void coordinatorJoinsThroughTheGivenManagerAndLeavesItOpen() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20);
                ZkLockManager dlm = manager(c, "test-cluster")) {
            ClusterCoordinator cluster =
                    ClusterCoordinator.builder().lockManager(dlm).build();
            try (Raid1Array md = Raid1Array.open(
                    c.legs, ArrayOptions.builder().name("md0").cluster(cluster).build())) {
                assertThat(cluster.state()).isEqualTo(MembershipState.ACTIVE);
                assertThat(cluster.lockSpaceName()).contains(c.created.uuid().toString());
                assertThat(cluster.toString()).contains("embedder");
                ByteBuffer b = AlignedBuffers.allocate(StampedBlock.SIZE);
                StampedBlock.stamp(b, 0, 0, 1, 1);
                md.write(0, b);
            }
            assertThat(cluster.state()).isEqualTo(MembershipState.LEFT);
            // still connected: the coordinator closed its lockspace, not the manager
            try (LockSpace other = dlm.join("after-leave", LockSpaceOptions.of(1))) {
                assertThat(other.state()).isEqualTo(LockSpaceState.ACTIVE);
            }
        }
    }

    @Test
    void aManagerOfAnotherClusterIsRefusedAtJoin() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20);
                ZkLockManager dlm = manager(c, "another-cluster")) {
            ClusterCoordinator cluster =
                    ClusterCoordinator.builder().lockManager(dlm).build();
            assertThatThrownBy(() -> Raid1Array.open(
                            c.legs,
                            ArrayOptions.builder().name("md0").cluster(cluster).build()))
                    .isInstanceOf(Raid1Exception.class)
                    .hasMessageContaining("another-cluster")
                    .hasMessageContaining("test-cluster");
            assertThat(cluster.state()).isEqualTo(MembershipState.LEFT);
            try (LockSpace other = dlm.join("after-refusal", LockSpaceOptions.of(1))) {
                assertThat(other.state()).isEqualTo(LockSpaceState.ACTIVE);
            }
        }
    }

    @Test
    void builderTakesAManagerOrAConnectStringNotBoth() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20);
                ZkLockManager dlm = manager(c, "test-cluster")) {
            assertThatThrownBy(() -> ClusterCoordinator.builder()
                            .lockManager(dlm)
                            .connectString(c.zk.connectString())
                            .build())
                    .isInstanceOf(IllegalStateException.class);
            assertThatThrownBy(() -> ClusterCoordinator.builder().nodeName("n").build())
                    .isInstanceOf(NullPointerException.class)
                    .hasMessageContaining("connectString");
        }
    }

    private static ZkLockManager manager(ClusterFixture c, String cluster) throws Exception {
        return ZkLockManager.builder()
                .connectString(c.zk.connectString())
                .cluster(cluster)
                .nodeName("embedder")
                .build();
    }
}
