package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data path takes no cluster lock and makes no ZooKeeper write (docs/design.md §1, figure P4): between
 * two probe znodes created by a bystander, the zxid moves by exactly one while two nodes write
 * and read their arrays at steady state (active, superblocks written).
 */
// ZooKeeper.close() declares InterruptedException; try-with-resources on it is intended
@SuppressWarnings("try")
class DataPathTest {
    @TempDir
    Path dir;

    @Test
    void steadyStateWritesAndReadsMakeNoZooKeeperWrite() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            a.writeBlock(0, 1); // each array turns active once: a superblock update under the token
            b.writeBlock(ClusterFixture.chunk(8), 1);
            try (ZooKeeper probe = connect(c.zk.connectString())) {
                // each array's turn to active ended with a METADATA_UPDATED broadcast, whose
                // receiver re-arms its locks (message PR, ack CR, message NL) after the sender has
                // returned: the steady state starts once those conversions are done
                long before = awaitQuiet(probe);
                ByteBuffer buf = AlignedBuffers.allocate(4096);
                for (int i = 0; i < 200; i++) {
                    a.writeBlock(ClusterFixture.chunk(i % 4) + 4096L * i, 10 + i);
                    b.writeBlock(ClusterFixture.chunk(8 + i % 4) + 4096L * i, 10 + i);
                    a.array.read(4096L * i, buf.clear());
                    b.array.read(ClusterFixture.chunk(8) + 4096L * i, buf.clear());
                }
                a.array.flush();
                long after = zxidOfNewZnode(probe, "/probe-after");
                assertThat(after - before)
                        .as("ZooKeeper writes by anyone between the probes, besides the probe")
                        .isEqualTo(1);
            }
            assertThat(a.cluster.state()).isEqualTo(MembershipState.ACTIVE);
        }
    }

    /**
     * Probes until nothing but the probe itself was written between two probes 200 ms apart, and
     * returns the last probe's zxid; fails when ZooKeeper is never quiet.
     */
    private static long awaitQuiet(ZooKeeper zk) throws Exception {
        long deadline = System.nanoTime() + Timing.seconds(20).toNanos();
        long last = zxidOfNewZnode(zk, "/probe-quiet-0");
        for (int i = 1; ; i++) {
            Thread.sleep(200);
            long now = zxidOfNewZnode(zk, "/probe-quiet-" + i);
            if (now - last == 1) return now;
            assertThat(System.nanoTime() - deadline)
                    .as("ZooKeeper still written by someone after 20 s of probes")
                    .isNegative();
            last = now;
        }
    }

    private static long zxidOfNewZnode(ZooKeeper zk, String path) throws Exception {
        Stat stat = new Stat();
        zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, stat);
        return stat.getCzxid();
    }

    private static ZooKeeper connect(String connectString) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connectString, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        assertThat(connected.await(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        return zk;
    }
}
