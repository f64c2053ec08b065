package org.clustermd.dlm.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.server.auth.ProviderRegistry;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

// ZooKeeper.close() declares InterruptedException; try-with-resources on it is intended
@SuppressWarnings("try")
class EmbeddedZooKeeperTest {
    private final Timing timing = new Timing();

    @TempDir
    Path dir;

    @Test
    void servesOnAFreeLoopbackPortWithDataInTheGivenDirectory() throws Exception {
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir.resolve("zk"), 0, ZooKeeperSettings.forTests())) {
            assertThat(server.clientPort()).isPositive();
            assertThat(server.connectString()).isEqualTo("127.0.0.1:" + server.clientPort());
            assertThat(server.isRunning()).isTrue();
            try (ZooKeeper zk = ZooKeeperClients.connect(server.connectString(), timing)) {
                zk.create(
                        "/a", "1".getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                assertThat(new String(zk.getData("/a", false, null), StandardCharsets.UTF_8))
                        .isEqualTo("1");
            }
            assertThat(dir.resolve("zk/version-2")).isDirectory();
            try (var files = Files.list(dir.resolve("zk/version-2"))) {
                assertThat(files.map(p -> p.getFileName().toString())).anyMatch(n -> n.startsWith("log."));
            }
        }
    }

    @Test
    void restartOnTheSameDataDirectoryKeepsEveryZnodeAndThePort() throws Exception {
        Path data = dir.resolve("zk");
        int port;
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(data, 0, ZooKeeperSettings.forTests())) {
            port = server.clientPort();
            try (ZooKeeper zk = ZooKeeperClients.connect(server.connectString(), timing)) {
                zk.create(
                        "/kept",
                        "v1".getBytes(StandardCharsets.UTF_8),
                        ZooDefs.Ids.OPEN_ACL_UNSAFE,
                        CreateMode.PERSISTENT);
            }
            server.stop();
            assertThat(server.isRunning()).isFalse();
            server.start();
            assertThat(server.clientPort()).isEqualTo(port);
            try (ZooKeeper zk = ZooKeeperClients.connect(server.connectString(), timing)) {
                assertThat(new String(zk.getData("/kept", false, null), StandardCharsets.UTF_8))
                        .isEqualTo("v1");
                zk.setData("/kept", "v2".getBytes(StandardCharsets.UTF_8), -1);
            }
        }
        // a new server object (as after a process restart) on the same directory
        try (EmbeddedZooKeeper again = EmbeddedZooKeeper.start(data, 0, ZooKeeperSettings.forTests());
                ZooKeeper zk = ZooKeeperClients.connect(again.connectString(), timing)) {
            assertThat(new String(zk.getData("/kept", false, null), StandardCharsets.UTF_8))
                    .isEqualTo("v2");
        }
    }

    @Test
    void sessionTimeoutsAreClampedToTheConfiguredRange() throws Exception {
        ZooKeeperSettings settings = ZooKeeperSettings.builder()
                .tickTimeMs(100)
                .sessionTimeoutRangeMs(1_500, 7_000)
                .forceSync(false)
                .build();
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir.resolve("zk"), 0, settings)) {
            try (ZooKeeper low = ZooKeeperClients.connect(server.connectString(), 200, timing);
                    ZooKeeper high = ZooKeeperClients.connect(server.connectString(), 600_000, timing);
                    ZooKeeper inside = ZooKeeperClients.connect(server.connectString(), 3_000, timing)) {
                assertThat(low.getSessionTimeout()).isEqualTo(1_500);
                assertThat(high.getSessionTimeout()).isEqualTo(7_000);
                assertThat(inside.getSessionTimeout()).isEqualTo(3_000);
            }
        }
        assertThat(ZooKeeperSettings.builder().tickTimeMs(500).build().minSessionTimeoutMs())
                .isEqualTo(1_000);
        assertThat(ZooKeeperSettings.builder().tickTimeMs(500).build().maxSessionTimeoutMs())
                .isEqualTo(10_000);
    }

    @Test
    void closeStopsEveryThreadTheServerStarted() throws Exception {
        LiveThreads threads = LiveThreads.snapshot();
        EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir.resolve("zk"), 0, ZooKeeperSettings.forTests());
        try (ZooKeeper zk = ZooKeeperClients.connect(server.connectString(), timing)) {
            zk.create("/t", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
        }
        assertThat(threads.newServerThreads())
                .as("server threads while running")
                .isNotEmpty();
        server.restart();
        server.close();
        server.close();
        assertThat(threads.newServerThreads()).as("threads left after close").isEmpty();
        assertThatThrownBy(server::start).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aBusyPortIsABindErrorNamingTheAddress() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            EmbeddedZooKeeper server =
                    new EmbeddedZooKeeper(dir.resolve("zk"), taken.getLocalPort(), ZooKeeperSettings.forTests());
            LiveThreads threads = LiveThreads.snapshot();
            assertThatThrownBy(server::start)
                    .isInstanceOfSatisfying(
                            EmbeddedServerException.class,
                            e -> assertThat(e.code()).isEqualTo(EmbeddedServerException.Code.BIND))
                    .hasMessageContaining(":" + taken.getLocalPort());
            assertThat(threads.newServerThreads()).isEmpty();
            server.close();
        }
    }

    @Test
    void limitsConnectionsPerClientHost() throws Exception {
        ZooKeeperSettings settings =
                ZooKeeperSettings.forTests().toBuilder().maxClientCnxns(2).build();
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir.resolve("zk"), 0, settings);
                ZooKeeper first = ZooKeeperClients.connect(server.connectString(), timing);
                ZooKeeper second = ZooKeeperClients.connect(server.connectString(), timing)) {
            assertThatThrownBy(() -> ZooKeeperClients.connect(
                                    server.connectString(), new Timing(java.time.Duration.ofSeconds(2)))
                            .close())
                    .isInstanceOf(AssertionError.class);
            assertThat(first.getState().isConnected() && second.getState().isConnected())
                    .isTrue();
        }
    }

    @Test
    void registersRequestedAuthenticationProvidersAndRejectsUnknownOnes() throws Exception {
        ZooKeeperSettings settings = ZooKeeperSettings.forTests().toBuilder()
                .authProvider("x509", "org.apache.zookeeper.server.auth.X509AuthenticationProvider")
                .build();
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(dir.resolve("zk"), 0, settings)) {
            assertThat(ProviderRegistry.getProvider("x509")).isNotNull();
        }
        ZooKeeperSettings bad = ZooKeeperSettings.forTests().toBuilder()
                .authProvider("nope", "org.example.NoSuchProvider")
                .build();
        EmbeddedZooKeeper server = new EmbeddedZooKeeper(dir.resolve("zk2"), 0, bad);
        assertThatThrownBy(server::start)
                .isInstanceOfSatisfying(
                        EmbeddedServerException.class,
                        e -> assertThat(e.code()).isEqualTo(EmbeddedServerException.Code.START))
                .hasMessageContaining("org.example.NoSuchProvider");
        server.close();
    }

    @Test
    void rejectsImpossibleSettings() {
        assertThatThrownBy(() -> ZooKeeperSettings.builder().tickTimeMs(0).build())
                .hasMessageContaining("tickTime");
        assertThatThrownBy(() -> ZooKeeperSettings.builder()
                        .sessionTimeoutRangeMs(5_000, 4_000)
                        .build())
                .hasMessageContaining("minSessionTimeout");
        assertThatThrownBy(() -> new EmbeddedZooKeeper(dir, 70_000, ZooKeeperSettings.defaults()))
                .hasMessageContaining("70000");
    }
}
