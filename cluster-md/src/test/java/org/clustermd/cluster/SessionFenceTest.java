package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.testing.TcpProxy;
import org.clustermd.raid1.ArrayState;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Lesson 31: a node whose ZooKeeper link is in doubt (SUSPENDED) may already have lost its bitmap
 * lock to a survivor, so it holds its I/O at once; when the same session comes back the I/O
 * flows again and nothing was fenced.
 */
class SessionFenceTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void aSuspendedSessionHoldsWritesUntilTheSameSessionIsBack() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 16L << 20);
             TcpProxy proxy = TcpProxy.start(c.zk.clientPort())) {
            ClusterFixture.Node a = c.start("node-a", true, proxy.connectString(), Duration.ofSeconds(8));
            a.writeBlock(0, 1);

            proxy.cut();
            await().atMost(WAIT).until(() -> a.cluster.sessionState().orElseThrow() == LockSpaceState.SUSPENDED);
            await().atMost(WAIT).until(() -> a.array.arrayState() == ArrayState.SUSPENDED);
            CompletableFuture<Void> held = CompletableFuture.runAsync(() -> {
                try {
                    a.writeBlock(4096, 2);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            Thread.sleep(300);
            assertThat(held).as("no write while the session is in doubt").isNotDone();

            proxy.restore();
            held.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(a.cluster.sessionState()).contains(LockSpaceState.ACTIVE);
            assertThat(a.array.fenceReason()).isEmpty();
            assertThat(a.cluster.state()).isEqualTo(MembershipState.ACTIVE);
            a.writeBlock(8192, 3);
        }
    }
}
