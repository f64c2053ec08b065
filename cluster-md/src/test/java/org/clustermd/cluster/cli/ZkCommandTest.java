package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code clustermd zk} as an operator runs it: a separate process, stopped by SIGTERM. */
// ZooKeeper.close() declares InterruptedException; try-with-resources on it is intended
@SuppressWarnings("try")
class ZkCommandTest {
    private final Timing timing = new Timing(Duration.ofSeconds(30));

    @TempDir
    Path dir;

    private Process process;

    @AfterEach
    void killLeftover() throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        }
    }

    @Test
    void printsTheConnectStringServesAndExitsZeroOnSigterm() throws Exception {
        Path data = dir.resolve("zk");
        String connect = startZk("--port", "0", "--data", data.toString(), "--tick-time", "500");
        assertThat(connect).matches("127\\.0\\.0\\.1:\\d+");
        try (ZooKeeper zk = connect(connect)) {
            zk.create(
                    "/kept", "v".getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        }
        process.destroy(); // SIGTERM
        assertThat(process.waitFor(timing.milliseconds(), TimeUnit.MILLISECONDS))
                .as("exits after SIGTERM")
                .isTrue();
        assertThat(process.exitValue()).isZero();
        assertThat(stderr()).contains("SIGTERM, stopped");

        // the same data directory keeps the znode
        String again = startZk("--port", "0", "--data", data.toString());
        try (ZooKeeper zk = connect(again)) {
            assertThat(zk.exists("/kept", false)).isNotNull();
        }
        process.destroy();
        assertThat(process.waitFor(timing.milliseconds(), TimeUnit.MILLISECONDS))
                .isTrue();
        assertThat(process.exitValue()).isZero();
    }

    @Test
    void aBusyPortFailsWithExitOneAndSaysWhy() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("127.0.0.1", 0));
            process = launch(
                    "zk",
                    "--port",
                    Integer.toString(taken.getLocalPort()),
                    "--data",
                    dir.resolve("zk").toString());
            assertThat(process.waitFor(timing.milliseconds(), TimeUnit.MILLISECONDS))
                    .isTrue();
            assertThat(process.exitValue()).isEqualTo(1);
            assertThat(new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8))
                    .as("stdout")
                    .isEmpty();
            assertThat(stderr()).contains("clustermd zk:").contains("BIND").contains(":" + taken.getLocalPort());
        }
    }

    private String startZk(String... options) throws IOException {
        String[] args = new String[options.length + 1];
        args[0] = "zk";
        System.arraycopy(options, 0, args, 1, options.length);
        process = launch(args);
        BufferedReader stdout =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
        String line = stdout.readLine();
        assertThat(line)
                .as("first stdout line; stderr: %s", line == null ? stderrNow() : "")
                .isNotNull();
        return line;
    }

    private Process launch(String... args) throws IOException {
        List<String> command = new java.util.ArrayList<>(List.of(
                Paths.get(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                "-cp",
                System.getProperty("java.class.path"),
                ClusterMdMain.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command)
                .redirectError(
                        dir.resolve("stderr-" + System.nanoTime() + ".txt").toFile())
                .start();
    }

    private String stderr() throws IOException {
        StringBuilder all = new StringBuilder();
        try (var files = Files.list(dir)) {
            for (Path p : files.filter(f -> f.getFileName().toString().startsWith("stderr-"))
                    .sorted()
                    .toList()) {
                all.append(Files.readString(p));
            }
        }
        return all.toString();
    }

    private String stderrNow() {
        try {
            return stderr();
        } catch (IOException e) {
            return e.toString();
        }
    }

    private ZooKeeper connect(String connectString) throws IOException, InterruptedException {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connectString, 10_000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        assertThat(timing.await(connected)).as("connected to " + connectString).isTrue();
        return zk;
    }
}
