package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.server.ZooKeeperServerMain;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.ZkClientTls;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clustermd node --zk-auth-file} (digest credentials: ACLs on every znode, a wrong
 * password refused clearly) and {@code --zk-client-config} with {@code --zk-x509} (TLS to a
 * ZooKeeper that serves only a secure client port, the client certificate as the identity), with
 * real node processes and real ZooKeeper servers; the TLS server runs
 * in a JVM of its own, so its {@code zookeeper.ssl.*} system properties cannot help the client.
 */
class NodeZkCredentialsTest {
    private static final String STORE_PASSWORD = "storepass1";

    @TempDir
    Path dir;

    private final List<Process> processes = new ArrayList<>();

    @AfterEach
    void killLeftovers() throws InterruptedException {
        for (Process p : processes) CliHarness.killLeftover(p);
    }

    private List<Path> array() throws IOException {
        List<Path> legs = CliHarness.legs(dir, 2, 24L << 20);
        CliHarness.Result r = CliHarness.run(
                CliHarness.create("md0", legs.get(0).toString(), legs.get(1).toString()));
        assertThat(r.code()).as(r.err()).isZero();
        return legs;
    }

    private Path file(String name, String text) throws IOException {
        return Files.writeString(dir.resolve(name), text, StandardCharsets.UTF_8);
    }

    /** A running node process with its stdout lines and its log file. */
    private record Node(Process process, List<String> lines, Path logFile) {
        String logText() throws IOException {
            return Files.exists(logFile) ? Files.readString(logFile) : "";
        }
    }

    private Node node(String name, String zk, List<Path> legs, String... credentials) throws IOException {
        return node("md0", name, zk, legs, credentials);
    }

    private Node node(String array, String name, String zk, List<Path> legs, String... credentials) throws IOException {
        // the connection timeout follows the session timeout: on a loaded CI machine a fresh JVM's
        // first TLS handshake once took longer than 4 s ("could not connect ... within 4000 ms")
        List<String> args = new ArrayList<>(
                List.of("--name", array, "--zk", zk, "--node-name", name, "--session-timeout", "10000"));
        args.addAll(List.of(credentials));
        legs.forEach(l -> args.add(l.toString()));
        Path log = dir.resolve(name + ".log");
        Process p = new ProcessBuilder(CliHarness.nodeCommand(List.of(), args))
                .redirectError(log.toFile())
                .start();
        processes.add(p);
        List<String> lines = new CopyOnWriteArrayList<>();
        CliHarness.lineReader(p, lines).start();
        return new Node(p, lines, log);
    }

    private static void awaitJoin(Node n) throws InterruptedException, IOException {
        CliHarness.waitForLine(n.process(), n.lines(), l -> l.startsWith("joined slot"), Timing.seconds(60));
        assertThat(n.lines()).as("stdout; log:%n%s", n.logText()).anyMatch(l -> l.startsWith("joined slot"));
    }

    private static int awaitExit(Node n) throws InterruptedException {
        assertThat(n.process().waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        return n.process().exitValue();
    }

    private static void stop(Node n) throws InterruptedException, IOException {
        n.process().toHandle().destroy(); // SIGTERM: a graceful leave
        assertThat(awaitExit(n)).as("exit; log:%n%s", n.logText()).isZero();
    }

    // ------------------------------------------------------------------ digest

    @Test
    void withADigestFileEveryZnodeIsTheClustersAndAWrongPasswordIsRefusedClearly() throws Exception {
        List<Path> legs = array();
        Path right = file("zk-auth", "clustermd:s3cret\n");
        Path wrong = file("zk-auth-wrong", "clustermd:guess\n");
        try (EmbeddedZooKeeper zk =
                EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests())) {
            Node a = node("a", zk.connectString(), legs, "--zk-auth-file", right.toString());
            awaitJoin(a);

            ZooKeeper authed = connect(zk.connectString());
            ZooKeeper anon = connect(zk.connectString());
            try {
                authed.addAuthInfo("digest", "clustermd:s3cret".getBytes(StandardCharsets.UTF_8));
                List<String> all = new ArrayList<>();
                collect(authed, "/clustermd/c1", all);
                assertThat(all).hasSizeGreaterThan(3);
                for (String p : all) {
                    List<ACL> acl = authed.getACL(p, null);
                    assertThat(acl).as(p).hasSize(1);
                    assertThat(acl.get(0).getId().getScheme()).as(p).isEqualTo("digest");
                    assertThatThrownBy(() -> anon.getChildren(p, false))
                            .as("anonymous listing of " + p)
                            .isInstanceOf(KeeperException.NoAuthException.class);
                }
            } finally {
                anon.close();
                authed.close();
            }

            Node b = node("b", zk.connectString(), legs, "--zk-auth-file", wrong.toString());
            assertThat(awaitExit(b)).as("exit; log:%n%s", b.logText()).isEqualTo(1);
            assertThat(b.logText()).contains("NO_AUTH").contains("credentials");
            assertThat(b.lines()).noneMatch(l -> l.startsWith("joined slot"));

            stop(a);
        }
    }

    private static void collect(ZooKeeper zk, String path, List<String> out) throws Exception {
        out.add(path);
        for (String c : zk.getChildren(path, false)) collect(zk, path + "/" + c, out);
    }

    @Test
    void aMissingOrMalformedCredentialsFileIsAUsageError() throws IOException {
        List<Path> legs = array();
        Path noColon = file("zk-auth-bad", "justauser\n");
        Path foreignKey = file("zk-client-bad.properties", "ssl.keyStore.location=/x\n");
        String[][] cases = {
            {"--zk-auth-file", dir.resolve("absent").toString()},
            {"--zk-auth-file", noColon.toString()},
            {"--zk-client-config", foreignKey.toString()},
            {"--zk-client-config", dir.resolve("absent.properties").toString()},
        };
        for (String[] c : cases) {
            List<String> args = new ArrayList<>(
                    List.of("node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", c[0], c[1]));
            legs.forEach(l -> args.add(l.toString()));
            CliHarness.Result r = CliHarness.run(args.toArray(String[]::new));
            assertThat(r.code()).as("%s -> %s", args, r.err()).isEqualTo(2);
            assertThat(r.err()).contains(c[0]);
        }
        List<String> x509Alone = new ArrayList<>(
                List.of("node", "--name", "md0", "--zk", "127.0.0.1:1", "--node-name", "n", "--zk-x509"));
        legs.forEach(l -> x509Alone.add(l.toString()));
        CliHarness.Result r = CliHarness.run(x509Alone.toArray(String[]::new));
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("--zk-x509 needs --zk-client-config");
    }

    // ------------------------------------------------------------------ TLS

    @Test
    void withTheClientConfigANodeJoinsOverTlsAsItsCertificateAndWithoutItItCannot() throws Exception {
        List<Path> legs = array();
        Path keyStore = dir.resolve("node.p12");
        Path trustStore = dir.resolve("trust.p12");
        keytool(
                "-genkeypair",
                "-alias",
                "clustermd",
                "-keyalg",
                "EC",
                "-groupname",
                "secp256r1",
                "-validity",
                "2",
                "-dname",
                "CN=clustermd-test",
                "-ext",
                "SAN=ip:127.0.0.1,dns:localhost",
                "-storetype",
                "PKCS12",
                "-keystore",
                keyStore.toString(),
                "-storepass",
                STORE_PASSWORD);
        Path cert = dir.resolve("node.crt");
        keytool(
                "-exportcert",
                "-alias",
                "clustermd",
                "-keystore",
                keyStore.toString(),
                "-storepass",
                STORE_PASSWORD,
                "-file",
                cert.toString());
        keytool(
                "-importcert",
                "-noprompt",
                "-alias",
                "clustermd",
                "-file",
                cert.toString(),
                "-storetype",
                "PKCS12",
                "-keystore",
                trustStore.toString(),
                "-storepass",
                STORE_PASSWORD);

        int port = freePort();
        Process server = secureZooKeeper(port, keyStore, trustStore);
        awaitListening(server, port);
        String zk = "127.0.0.1:" + port;

        Path clientConfig = file(
                "zk-client.properties",
                "zookeeper.ssl.keyStore.location=" + keyStore + "\n"
                        + "zookeeper.ssl.keyStore.password=" + STORE_PASSWORD + "\n"
                        + "zookeeper.ssl.trustStore.location=" + trustStore + "\n"
                        + "zookeeper.ssl.trustStore.password=" + STORE_PASSWORD + "\n");
        Path auth = file("zk-auth", "clustermd:s3cret\n");

        Node plain = node("plain", zk, legs);
        assertThat(awaitExit(plain)).as("exit; log:%n%s", plain.logText()).isEqualTo(1);
        assertThat(plain.logText()).contains("could not connect to ZooKeeper");

        Node x509 = node("x509", zk, legs, "--zk-client-config", clientConfig.toString(), "--zk-x509");
        awaitJoin(x509);
        stop(x509);

        // digest over the same TLS, for another array in another cluster
        List<Path> legs2 = CliHarness.legs(dir, "other", 2, 24L << 20);
        CliHarness.Result created = CliHarness.run(
                "create",
                "--name",
                "md1",
                "--cluster-name",
                "c2",
                "--nodes",
                "2",
                "--assume-clean",
                legs2.get(0).toString(),
                legs2.get(1).toString());
        assertThat(created.code()).as(created.err()).isZero();
        Node digest = node(
                "md1",
                "digest",
                zk,
                legs2,
                "--zk-client-config",
                clientConfig.toString(),
                "--zk-auth-file",
                auth.toString());
        awaitJoin(digest);
        stop(digest);

        ZooKeeper tlsClient = connect(zk, ZkClientTls.load(clientConfig).clientConfig());
        try {
            tlsClient.addAuthInfo("digest", "clustermd:s3cret".getBytes(StandardCharsets.UTF_8));
            List<ACL> c1 = tlsClient.getACL("/clustermd/c1", null);
            assertThat(c1).hasSize(1);
            assertThat(c1.get(0).getId().getScheme()).isEqualTo("x509");
            assertThat(c1.get(0).getId().getId()).isEqualTo("CN=clustermd-test");
            List<ACL> c2 = tlsClient.getACL("/clustermd/c2", null);
            assertThat(c2).hasSize(1);
            assertThat(c2.get(0).getId().getScheme()).isEqualTo("digest");
        } finally {
            tlsClient.close();
        }
    }

    private void keytool(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Paths.get(System.getProperty("java.home"), "bin", "keytool").toString());
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        processes.add(p);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        assertThat(p.exitValue())
                .as("keytool %s:%n%s", String.join(" ", args), out)
                .isZero();
    }

    /** ZooKeeper in a JVM of its own, serving only a TLS client port on 127.0.0.1 (client certificates required). */
    private Process secureZooKeeper(int port, Path keyStore, Path trustStore) throws IOException {
        Path data = Files.createDirectories(dir.resolve("zk-tls"));
        Path cfg = file(
                "zoo.cfg",
                "tickTime=500\n" + "dataDir=" + data + "\n" + "secureClientPort=" + port + "\n"
                        + "secureClientPortAddress=127.0.0.1\n" + "minSessionTimeout=1000\n"
                        + "maxSessionTimeout=60000\n" + "admin.enableServer=false\n");
        List<String> cmd = new ArrayList<>(List.of(
                Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-Dzookeeper.serverCnxnFactory=org.apache.zookeeper.server.NettyServerCnxnFactory",
                "-Dzookeeper.ssl.keyStore.location=" + keyStore,
                "-Dzookeeper.ssl.keyStore.password=" + STORE_PASSWORD,
                "-Dzookeeper.ssl.trustStore.location=" + trustStore,
                "-Dzookeeper.ssl.trustStore.password=" + STORE_PASSWORD,
                "-cp",
                System.getProperty("java.class.path"),
                ZooKeeperServerMain.class.getName(),
                cfg.toString()));
        Process p = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("zk-tls.log").toFile())
                .start();
        processes.add(p);
        return p;
    }

    private void awaitListening(Process server, int port) throws InterruptedException, IOException {
        long deadline = System.nanoTime() + Timing.seconds(60).toNanos();
        while (System.nanoTime() < deadline && server.isAlive()) {
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 1000);
                return;
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        throw new AssertionError(
                "the TLS ZooKeeper did not listen; its log:\n" + Files.readString(dir.resolve("zk-tls.log")));
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private static ZooKeeper connect(String cs) throws Exception {
        return connect(cs, new ZKClientConfig());
    }

    private static ZooKeeper connect(String cs, ZKClientConfig config) throws Exception {
        CountDownLatch l = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(
                cs,
                10_000,
                e -> {
                    if (e.getState() == Watcher.Event.KeeperState.SyncConnected) l.countDown();
                },
                config);
        assertThat(l.await(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS))
                .isTrue();
        return zk;
    }
}
