package org.clustermd.bench.broadcast;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.bench.RawZooKeeper;

/**
 * The cheapest acknowledged broadcast ZooKeeper allows, as a lower bound for P8 on the same server
 * and the same cores: the sender writes one znode; each receiver, woken by its persistent watch,
 * writes its own ack znode (all receivers in parallel, nothing to race on); the sender's persistent
 * watch counts the acks. One write, one notification, one write per receiver, one notification:
 * no lock, no exclusion between senders, no re-arming, no reading of the message. Any broadcast
 * through ZooKeeper watches costs at least this; md-cluster's (docs/md-cluster-protocol.md §b.3,
 * §b.4) costs more.
 *
 * <p>Every member its own session, as in P8. Not thread-safe: one sender at a time.
 */
final class BroadcastFloor implements AutoCloseable {
    private final String root;
    private final ZooKeeper sender;
    private final List<ZooKeeper> receivers = new ArrayList<>();
    private final Semaphore acks = new Semaphore(0);
    private final byte[] payload = new byte[64];

    private BroadcastFloor(String root, ZooKeeper sender) {
        this.root = root;
        this.sender = sender;
    }

    static BroadcastFloor open(String cs, String root, int members)
            throws IOException, InterruptedException, KeeperException {
        BroadcastFloor f = new BroadcastFloor(root, RawZooKeeper.connect(cs));
        try {
            ensure(f.sender, root);
            ensure(f.sender, root + "/msg");
            ensure(f.sender, root + "/acks");
            for (int i = 1; i < members; i++) {
                String ack = root + "/acks/" + i;
                ensure(f.sender, ack);
                ZooKeeper r = RawZooKeeper.connect(cs);
                f.receivers.add(r);
                // on the client's event thread: an asynchronous write, never a blocking call there
                r.addWatch(
                        root + "/msg",
                        e -> {
                            if (e.getType() == Watcher.Event.EventType.NodeDataChanged) {
                                r.setData(ack, f.payload, -1, (rc, path, ctx, stat) -> {}, null);
                            }
                        },
                        AddWatchMode.PERSISTENT);
            }
            f.sender.addWatch(
                    root + "/acks",
                    (WatchedEvent e) -> {
                        if (e.getType() == Watcher.Event.EventType.NodeDataChanged) f.acks.release();
                    },
                    AddWatchMode.PERSISTENT_RECURSIVE);
            return f;
        } catch (IOException | InterruptedException | KeeperException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** One broadcast's time in nanoseconds: the message written until every receiver's ack is seen. */
    long broadcastOnce() throws KeeperException, InterruptedException {
        long s = System.nanoTime();
        sender.setData(root + "/msg", payload, -1);
        if (!acks.tryAcquire(receivers.size(), 20, TimeUnit.SECONDS)) {
            throw new IllegalStateException("floor broadcast: not every receiver acknowledged in 20 s");
        }
        return System.nanoTime() - s;
    }

    long[] measure(int n) throws KeeperException, InterruptedException {
        long[] t = new long[n];
        for (int i = 0; i < n; i++) t[i] = broadcastOnce();
        return t;
    }

    @Override
    public void close() {
        for (ZooKeeper z : receivers) closeQuietly(z);
        closeQuietly(sender);
    }

    private static void closeQuietly(ZooKeeper z) {
        try {
            z.close();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    static void ensure(ZooKeeper zk, String path) throws KeeperException, InterruptedException {
        try {
            zk.create(path, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // there already
        }
    }
}
