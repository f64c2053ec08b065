package org.clustermd.bench;

import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/** A plain ZooKeeper session, no Curator and no lock manager: the peers' raw writes and the benchmarks' own markers. */
public final class RawZooKeeper {
    private RawZooKeeper() {}

    /** A session of {@code session} to {@code cs}, returned once connected; IOException when not within {@code wait}. */
    public static ZooKeeper connect(String cs, Duration session, Duration wait)
            throws IOException, InterruptedException {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(cs, (int) session.toMillis(), e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
        });
        if (!connected.await(wait.toMillis(), TimeUnit.MILLISECONDS)) {
            zk.close();
            throw new IOException("could not connect to " + cs + " within " + wait.toSeconds() + " s");
        }
        return zk;
    }

    /** {@link #connect(String, Duration, Duration)} with a 15 s session, waiting up to 20 s. */
    public static ZooKeeper connect(String cs) throws IOException, InterruptedException {
        return connect(cs, Duration.ofSeconds(15), Duration.ofSeconds(20));
    }
}
