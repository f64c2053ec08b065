package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A standalone server stopped and restarted on the same data within the session timeout: every
 * member is suspended, then resumes with the same session, every lock and value block intact, and
 * a request queued before the restart is still granted by the release after it (the members'
 * replicas are rebuilt by the re-read that follows the reconnect).
 */
class ServerRestartTest {
    @Test
    void locksAndQueuedRequestsSurviveAServerRestart(@TempDir Path dir) throws Exception {
        Timing timing = new Timing();
        List<String> events = new CopyOnWriteArrayList<>();
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(
                        Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
                ZkTestSupport nodes = new ZkTestSupport(server.connectString(), Duration.ofSeconds(20))) {
            LockSpace a = nodes.manager("a").join("md0", LockSpaceOptions.of(4).withListener(listener("a", events)));
            LockSpace b = nodes.manager("b").join("md0", LockSpaceOptions.of(4).withListener(listener("b", events)));
            LockResource ra = a.resource("bitmap0000");
            ra.convert(LockMode.PW);
            byte[] v = new byte[64];
            v[0] = 9;
            ra.setValueBlock(LockValueBlock.of(v));
            ra.convert(LockMode.PW);
            long token = ra.fencingToken();
            CompletableFuture<LockGrant> bWaits = b.resource("bitmap0000").convertAsync(LockMode.PW);
            timing.waitFor(
                    "b queued",
                    () -> ((ZkLockSpace) b)
                            .tables().getOrDefault("bitmap0000", List.of()).stream()
                                    .anyMatch(LockEntry::isPending));

            server.stop();
            timing.waitFor("both suspended", () -> events.contains("a:SUSPENDED") && events.contains("b:SUSPENDED"));
            server.restart();
            timing.waitFor("both active", () -> events.contains("a:ACTIVE") && events.contains("b:ACTIVE"));

            assertThat(a.state()).isEqualTo(LockSpaceState.ACTIVE);
            assertThat(ra.grantedMode()).contains(LockMode.PW);
            assertThat(ra.fencingToken()).isEqualTo(token);
            assertThat(bWaits).isNotDone();
            ra.unlock();
            LockGrant g = bWaits.get(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS);
            assertThat(g.valueBlock().toByteArray()[0]).isEqualTo((byte) 9);
            assertThat(g.fencingToken()).isGreaterThan(token);
            assertThat(events).doesNotContain("a:LOST", "b:LOST");
        }
    }

    private static LockSpaceListener listener(String who, List<String> events) {
        return new LockSpaceListener() {
            @Override
            public void stateChanged(LockSpaceState s) {
                events.add(who + ":" + s);
            }
        };
    }
}
