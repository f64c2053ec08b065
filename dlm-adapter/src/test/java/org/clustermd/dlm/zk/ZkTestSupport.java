package org.clustermd.dlm.zk;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.DlmException;
import org.clustermd.testkit.Timing;

/** Members on a real ZooKeeper for tests; closes everything it made. */
final class ZkTestSupport implements AutoCloseable {
    final String connectString;
    private final List<ZkLockManager> managers = Collections.synchronizedList(new ArrayList<>());
    private final Duration sessionTimeout;
    private boolean ensembleTracker = true;

    ZkTestSupport(String connectString, Duration sessionTimeout) {
        this.connectString = connectString;
        this.sessionTimeout = sessionTimeout;
    }

    /**
     * Managers made from now on keep the connect string (behind a proxy, Curator's ensemble
     * tracker would replace it with the servers' own addresses and go around the proxy).
     */
    ZkTestSupport withoutEnsembleTracker() {
        ensembleTracker = false;
        return this;
    }

    ZkLockManager manager(String node) throws DlmException {
        return manager(node, "c", DlmCredentials.none());
    }

    ZkLockManager manager(String node, String cluster, DlmCredentials creds) throws DlmException {
        ZkLockManager m = ZkLockManager.builder()
                .connectString(connectString)
                .cluster(cluster)
                .nodeName(node)
                .sessionTimeout(sessionTimeout)
                .connectionTimeout(Duration.ofSeconds(20))
                .credentials(creds)
                .ensembleTracker(ensembleTracker)
                .build();
        managers.add(m);
        return m;
    }

    /**
     * Expires {@code m}'s session on the server at once, the way ZooKeeper's own tests do: a second
     * handle attaches to the same session and closes it. The first handle learns of the expiry when
     * its connection is dropped and it tries to reconnect.
     */
    static void expire(ZkLockManager m, String connectString) throws Exception {
        ZooKeeper zk = m.curator().getZookeeperClient().getZooKeeper();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper dup = new ZooKeeper(
                connectString,
                10_000,
                e -> {
                    if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                        connected.countDown();
                    }
                },
                zk.getSessionId(),
                zk.getSessionPasswd());
        try {
            if (!connected.await(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS)) {
                throw new IllegalStateException("could not attach to session " + Long.toHexString(zk.getSessionId()));
            }
        } finally {
            dup.close();
        }
    }

    @Override
    public void close() {
        synchronized (managers) {
            for (ZkLockManager m : managers) {
                try {
                    m.close();
                } catch (RuntimeException e) {
                    // keep closing the others
                }
            }
            managers.clear();
        }
    }
}
