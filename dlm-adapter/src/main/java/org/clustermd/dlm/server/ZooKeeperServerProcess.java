package org.clustermd.dlm.server;

import java.io.IOException;
import org.apache.zookeeper.server.quorum.QuorumPeerMain;

/**
 * Main class of one server process of a {@link ZooKeeperProcessEnsemble}: ZooKeeper's own
 * {@code QuorumPeerMain}, plus a watchdog that halts the process when its parent goes away.
 * The parent holds the write end of this process's stdin and never writes; the kernel closes
 * it when the parent exits, even by SIGKILL, so end-of-file on stdin means "orphaned". Without
 * it a test JVM killed mid-run would leave ZooKeeper servers holding ports forever.
 *
 * <p>Thread-safe: it only starts threads.
 */
public final class ZooKeeperServerProcess {
    /** Exit status when the parent went away. */
    static final int ORPHANED = 3;

    private ZooKeeperServerProcess() {}

    /** {@code args}: the path of zoo.cfg, as for {@code QuorumPeerMain}. */
    public static void main(String[] args) {
        Thread watchdog = new Thread(ZooKeeperServerProcess::haltWhenOrphaned, "parent-watchdog");
        watchdog.setDaemon(true);
        watchdog.start();
        QuorumPeerMain.main(args);
    }

    private static void haltWhenOrphaned() {
        try {
            while (System.in.read() >= 0) {
                // the parent never writes; anything read is ignored
            }
        } catch (IOException e) {
            // a broken stdin means the parent is gone as well
        }
        Runtime.getRuntime().halt(ORPHANED);
    }
}
