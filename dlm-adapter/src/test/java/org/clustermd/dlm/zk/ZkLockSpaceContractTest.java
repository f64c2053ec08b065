package org.clustermd.dlm.zk;

import static org.awaitility.Awaitility.await;

import java.time.Duration;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceContractTest;
import org.clustermd.dlm.LockSpaceListener;
import org.clustermd.dlm.LockSpaceOptions;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;

class ZkLockSpaceContractTest extends LockSpaceContractTest {
    private static TestingServer server;
    private ZkTestSupport nodes;
    private static int round;

    @BeforeAll
    static void start() throws Exception {
        server = new TestingServer();
    }

    @AfterAll
    static void stop() throws Exception {
        server.close();
    }

    @AfterEach
    void closeNodes() throws Exception {
        if (nodes != null) {
            nodes.close();
        }
        // clean state (Curator's TestCleanState idea): no callback thread outlives its lockspace
        org.clustermd.testkit.Timing.waitFor(
                "no dlm-ast threads left",
                () -> Thread.getAllStackTraces().keySet().stream()
                        .noneMatch(t -> t.isAlive() && t.getName().startsWith("dlm-ast-")),
                Duration.ofSeconds(10));
    }

    @Override
    protected LockSpace join(String node, String name, LockSpaceListener listener) throws Exception {
        if (nodes == null) {
            nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10));
            round++;
        }
        // a fresh cluster per test keeps tests independent on the shared server
        return nodes.manager(node, "contract" + round, DlmCredentials.none())
                .join(name, LockSpaceOptions.of(8).withListener(listener).withRequestTimeout(WAIT));
    }

    @Override
    protected void awaitQueued(LockResource r) {
        ZkLockResource h = (ZkLockResource) r;
        await().atMost(WAIT).until(() -> {
            var tables = ((ZkLockSpace) h.space).tables();
            return tables.getOrDefault(r.name(), java.util.List.of()).stream()
                    .anyMatch(e -> e.key().equals(h.key) && e.isPending());
        });
    }
}
