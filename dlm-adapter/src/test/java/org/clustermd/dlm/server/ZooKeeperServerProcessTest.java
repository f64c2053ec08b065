package org.clustermd.dlm.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ZooKeeperServerProcessTest {
    private final Timing timing = new Timing(Duration.ofSeconds(30));

    @TempDir
    Path dir;

    @Test
    void aServerWhoseParentGoesAwayHaltsItself() throws Exception {
        int port = LocalPorts.pick("127.0.0.1", 1)[0];
        Path cfg = dir.resolve("zoo.cfg");
        Files.writeString(
                cfg,
                "tickTime=500\ndataDir=" + dir.resolve("data") + "\nclientPort=" + port
                        + "\nclientPortAddress=127.0.0.1\nadmin.enableServer=false\n");
        Process server = new ProcessBuilder(List.of(
                        Paths.get(System.getProperty("java.home"), "bin", "java")
                                .toString(),
                        "-Xmx128m",
                        "-cp",
                        System.getProperty("java.class.path"),
                        ZooKeeperServerProcess.class.getName(),
                        cfg.toString()))
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("server.log").toFile())
                .start();
        try {
            timing.waitFor("the server listens on " + port, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 500);
                    return true;
                }
            });
            // what the kernel does to the pipe when the parent JVM dies
            server.getOutputStream().close();
            assertThat(server.waitFor(timing.milliseconds(), TimeUnit.MILLISECONDS))
                    .as("halted after its stdin closed")
                    .isTrue();
            assertThat(server.exitValue()).isEqualTo(ZooKeeperServerProcess.ORPHANED);
        } finally {
            server.destroyForcibly();
        }
    }
}
