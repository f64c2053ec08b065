package org.clustermd.dlm.server;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.testkit.Timing;

/** Plain ZooKeeper clients for the server tests. */
final class ZooKeeperClients {
    private ZooKeeperClients() {}

    /** A client connected to {@code connectString}, or an AssertionError after the timing's duration. */
    static ZooKeeper connect(String connectString, int sessionTimeoutMs, Timing timing)
            throws IOException, InterruptedException {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connectString, sessionTimeoutMs, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(timing.milliseconds(), TimeUnit.MILLISECONDS)) {
            zk.close();
            throw new AssertionError("no connection to " + connectString + " within " + timing.milliseconds() + " ms");
        }
        return zk;
    }

    /**
     * Creates a persistent znode; true also when it exists already, since a create retried
     * after a connection loss may find its own earlier attempt committed.
     */
    static boolean create(ZooKeeper zk, String path) throws KeeperException, InterruptedException {
        try {
            zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // the earlier attempt went through
        }
        return true;
    }

    static ZooKeeper connect(String connectString, Timing timing) throws IOException, InterruptedException {
        return connect(connectString, (int) Duration.ofSeconds(10).toMillis(), timing);
    }
}
