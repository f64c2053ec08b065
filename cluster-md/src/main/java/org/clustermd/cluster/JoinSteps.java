package org.clustermd.cluster;

import java.util.Set;
import java.util.UUID;
import org.clustermd.cluster.message.ChannelBounds;
import org.clustermd.cluster.message.MessageChannel;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockManager;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.WhenLeased;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The steps of a {@link ClusterCoordinator}'s join (docs/md-cluster-protocol.md §c.2) that
 * depend only on its configuration: whether the array can join the lock manager's cluster, which
 * lock manager to join through, the warnings about bounds that do not nest, the join-time lock
 * conversions that wait out a lapsed lease, and the line that says the join succeeded.
 * Owns nothing; the coordinator keeps what join creates.
 *
 * <p>Thread-safety: used by the one thread that joins, one instance per join; immutable.
 */
final class JoinSteps {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private final ClusterCoordinator.Config config;
    private final String arrayName;

    JoinSteps(ClusterCoordinator.Config config, String arrayName) {
        this.config = config;
        this.arrayName = arrayName;
    }

    /**
     * The array must name a cluster, and a given lock manager must serve it; otherwise the join
     * ends here and the membership is LEFT.
     */
    void checkCluster(ClusterCoordinator owner, Membership m, String clusterName) throws Raid1Exception {
        if (clusterName == null || clusterName.isEmpty()) {
            m.transition(Set.of(MembershipState.JOINING), MembershipState.LEFT);
            throw owner.cluster("the array has no clustered bitmap (no cluster_name): it cannot join a cluster", null);
        }
        LockManager given = config.given();
        if (given != null && !given.cluster().equals(clusterName)) {
            // as the DLM refuses a lockspace of a cluster it does not serve
            m.transition(Set.of(MembershipState.JOINING), MembershipState.LEFT);
            throw owner.cluster(
                    "the lock manager serves cluster " + given.cluster() + ", but the array's bitmap names cluster "
                            + clusterName,
                    null);
        }
    }

    /** The line that says the join succeeded. */
    void logJoined(String clusterName, UUID uuid, NodeSlot slot, int nodes) {
        log.info(
                "{}: joined cluster {} lockspace {} as {} of {} (node {})",
                arrayName,
                clusterName,
                uuid,
                slot,
                nodes,
                config.nodeName());
    }

    /** Bounds that do not nest are warned about, not refused: the join goes on. */
    void warnAboutBounds(Mddev mddev, ChannelBounds bounds) {
        if (config.requestTimeout().compareTo(mddev.ioWait()) >= 0) {
            // the defaults keep the order; a configuration that breaks it still runs, but an admin wait
            // may then report TIMEOUT while the update it waits for succeeds later (docs/lessons.md §23)
            log.warn(
                    "{}: the cluster's request timeout ({} ms) is not below the array's I/O wait ({} ms), which covers a superblock "
                            + "update with its broadcast: an administrative wait may run out before the cluster's own bound",
                    mddev.name(),
                    config.requestTimeout().toMillis(),
                    mddev.ioWait().toMillis());
        }
        if (bounds.ack().compareTo(config.sessionTimeout()) <= 0) {
            log.warn(
                    "{}: the message ack wait ({} ms) is not above the session timeout ({} ms): a broadcast during a node's death "
                            + "fails instead of waiting for its locks to be purged",
                    mddev.name(),
                    bounds.ack().toMillis(),
                    config.sessionTimeout().toMillis());
        }
    }

    /** The embedder's lock manager, or one on ZooKeeper connected for the bitmap's cluster now. */
    LockManager lockManagerFor(String clusterName) throws DlmException {
        if (config.given() != null) return config.given();
        return ZkLockManager.builder()
                .connectString(config.connectString())
                .root(config.root())
                .cluster(clusterName)
                .nodeName(config.nodeName())
                .sessionTimeout(config.sessionTimeout())
                .connectionTimeout(config.connectionTimeout())
                .credentials(config.credentials())
                .build();
    }

    /**
     * The message channel, opened under token EX (docs/lessons.md §7: ack armed and the
     * superblock re-read under it, so a message sent before was missed and every later one is ours
     * to acknowledge), which also covers {@link #lockOwnSlot} and stays held until our slot is
     * open ({@link MessageChannel#endJoin}, at loadBitmaps; docs/lessons.md §61).
     */
    MessageChannel openChannel(
            ClusterCoordinator owner,
            Mddev mddev,
            LockSpace ls,
            ChannelBounds bounds,
            MessageReceiver receiver,
            LockResource bitmapLock,
            LockResource resync,
            DlmStep clearLeftOver)
            throws Raid1Exception {
        return MessageChannel.openHoldingToken(
                arrayName,
                ls,
                bounds,
                receiver,
                () -> lockOwnSlot(owner, ls, bitmapLock, resync, clearLeftOver),
                mddev::reloadSuperblock);
    }

    /**
     * Under the join's token: our slot's bitmap lock in PW (waiting out a survivor that recovers
     * the slot's last owner), its left-over window cleared, {@code resync} at NL. A size change
     * holds the token from its prepare on, so it finds our slot free and resizes it as any free
     * one, instead of finding it live and behind (docs/lessons.md §61).
     */
    void lockOwnSlot(
            ClusterCoordinator owner, LockSpace ls, LockResource bitmapLock, LockResource resync, DlmStep clearLeftOver)
            throws Raid1Exception {
        try {
            convertWhenLeased(ls, bitmapLock, LockMode.PW);
            clearLeftOver.run();
            convertWhenLeased(ls, resync, LockMode.NL);
        } catch (DlmException e) {
            throw owner.cluster("joining: taking " + bitmapLock.name() + " failed: " + e.getMessage(), e);
        }
    }

    /** A join step on the lock manager. */
    @FunctionalInterface
    interface DlmStep {
        void run() throws DlmException;
    }

    String where() {
        return config.connectString() == null ? "" : " at " + config.connectString();
    }

    /**
     * A join-time conversion that a lapsed lease refused (SUSPENDED: a busy machine may miss a
     * renewal while the JVM starts) is tried again once the lease is valid, within the connection
     * timeout; nothing is held yet, so waiting is safe. Any other failure, or a lease that does
     * not come back, fails the join.
     */
    void convertWhenLeased(LockSpace ls, LockResource r, LockMode mode) throws DlmException {
        WhenLeased.retry(
                ls,
                System.nanoTime() + config.connectionTimeout().toNanos(),
                () -> log.warn(
                        "{}: {} refused while the lease lapsed; waiting for it to be renewed", arrayName, r.name()),
                left -> r.convert(mode));
    }
}
