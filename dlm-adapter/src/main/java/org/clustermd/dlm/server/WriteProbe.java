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

/**
 * Proves that a server or ensemble serves writes: a plain ZooKeeper client creates and
 * deletes an ephemeral znode under the root, retrying until a bounded deadline. Only a write
 * proves a quorum; a connected client alone does not.
 *
 * <p>Stateless; safe from any thread.
 */
final class WriteProbe {
    private static final String PROBE_PREFIX = "/clustermd-write-probe-";
    private static final long RETRY_PAUSE_MS = 100;

    private WriteProbe() {}

    static void awaitWrite(String connectString, Duration timeout) throws EmbeddedServerException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (true) {
            long remainingMs = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (remainingMs <= 0) {
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.NOT_SERVING,
                        connectString + " did not serve a write within " + timeout.toMillis() + " ms"
                                + (last == null ? "" : "; last error: " + last),
                        last);
            }
            try {
                if (tryWrite(connectString, remainingMs)) {
                    return;
                }
            } catch (KeeperException | IOException e) {
                last = e;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.INTERRUPTED,
                        "interrupted while waiting for " + connectString + " to serve a write",
                        e);
            }
            try {
                Thread.sleep(Math.min(RETRY_PAUSE_MS, Math.max(1, remainingMs)));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.INTERRUPTED,
                        "interrupted while waiting for " + connectString + " to serve a write",
                        e);
            }
        }
    }

    private static boolean tryWrite(String connectString, long remainingMs)
            throws IOException, KeeperException, InterruptedException {
        CountDownLatch connected = new CountDownLatch(1);
        int sessionTimeout = (int) Math.max(2_000, Math.min(remainingMs, 30_000));
        ZooKeeper zk = new ZooKeeper(connectString, sessionTimeout, event -> {
            if (event.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        try {
            if (!connected.await(remainingMs, TimeUnit.MILLISECONDS)) {
                return false;
            }
            try {
                String path = zk.create(
                        PROBE_PREFIX, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL);
                zk.delete(path, -1);
            } catch (KeeperException.NoAuthException e) {
                // a root closed by ACLs: the leader judged the write, so a quorum is there
            }
            return true;
        } finally {
            zk.close();
        }
    }
}
