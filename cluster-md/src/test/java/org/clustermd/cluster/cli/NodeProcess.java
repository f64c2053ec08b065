package org.clustermd.cluster.cli;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/** Test helper: a {@code clustermd node} in its own JVM, its stdout lines collected, killed at close if still alive. */
final class NodeProcess implements AutoCloseable {
    final Process process;
    final List<String> lines = new CopyOnWriteArrayList<>();
    final Path log;
    private final Thread reader;

    private NodeProcess(Process process, Path log) {
        this.process = process;
        this.log = log;
        this.reader = CliHarness.lineReader(process, lines);
        reader.start();
    }

    static NodeProcess start(Path log, String... nodeArgs) throws IOException {
        List<String> cmd = CliHarness.nodeCommand(List.of(), List.of(nodeArgs));
        return new NodeProcess(
                new ProcessBuilder(cmd).redirectError(log.toFile()).start(), log);
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    /** Waits up to 90 s for a line matching {@code p}; false when the process died or time ran out. */
    boolean await(Predicate<String> p) throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(90);
        while (System.nanoTime() < deadline) {
            if (lines.stream().anyMatch(p)) return true;
            if (!process.isAlive()) return lines.stream().anyMatch(p);
            Thread.sleep(50);
        }
        return false;
    }

    String stderr() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    /** SIGTERM (graceful leave); returns the exit code, or -1 if it did not exit in 60 s. */
    int stop() throws InterruptedException {
        process.toHandle().destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) return -1;
        reader.join(10_000);
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }
}
