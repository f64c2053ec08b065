package org.clustermd.cluster.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;

/**
 * One {@code clustermd node} process of the demo: started with the demo's own java, JVM flags
 * and classpath; its stdout relayed line by line with a {@code [nodeN]} prefix and read for the
 * {@link NodeProgress} events the demo waits for (its slot, its NBD export's port, its recovery
 * of a dead slot); its stderr (logs) kept in a file.
 *
 * <p>Thread-safe: the relay thread writes the event fields, the demo reads them (volatile).
 */
final class DemoNode {
    final String name;
    final Path errLog;
    /** The port its JMX serves on 127.0.0.1 (the demo picks it). */
    final int jmxPort;

    private final Consumer<String> relay;
    private Process process;
    private Thread reader;

    volatile int slot = -1;
    /** The port of its NBD export, -1 until it said it. */
    volatile int nbdPort = -1;
    /** The dead slot's recovery result here: dirty chunks copied, or 0 when it was clean; -1 until known. */
    volatile long copiedChunks = -1;
    /** Bytes the sync passes copied after the recovery result above. */
    volatile long resyncedBytes;

    volatile boolean resyncDoneAfterRecovery;

    /** Bytes a sync pass copied before any recovery result here (the array's initial resync); -1 until one ended. */
    volatile long initialResyncBytes = -1;

    DemoNode(String name, Path dir, int jmxPort, Consumer<String> relay) {
        this.name = name;
        this.errLog = dir.resolve(name + ".log");
        this.jmxPort = jmxPort;
        this.relay = relay;
    }

    /** Starts {@code command} (the whole command line) and its relay thread. */
    void start(List<String> command) throws IOException {
        process = new ProcessBuilder(command).redirectError(errLog.toFile()).start();
        process.getOutputStream().close();
        reader = new Thread(this::relayLines, "demo-relay-" + name);
        reader.setDaemon(true);
        reader.start();
    }

    private void relayLines() {
        try (BufferedReader in =
                new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            for (String line; (line = in.readLine()) != null; ) {
                relay.accept("[" + name + "] " + line);
                observe(line);
            }
        } catch (IOException e) {
            // the process is gone
        }
    }

    private void observe(String line) {
        Matcher m;
        if ((m = NodeProgress.match(NodeProgress.JOINED, line)) != null) {
            slot = Integer.parseInt(m.group(1));
        } else if ((m = NodeProgress.match(NodeProgress.COPIED, line)) != null) {
            copiedChunks = Long.parseLong(m.group(1));
        } else if (NodeProgress.match(NodeProgress.CLEAN, line) != null) {
            copiedChunks = 0;
        } else if ((m = NodeProgress.match(NodeProgress.RESYNC_DONE, line)) != null) {
            if (copiedChunks >= 0) {
                resyncedBytes += Long.parseLong(m.group(1));
                resyncDoneAfterRecovery = true;
            } else {
                initialResyncBytes = Long.parseLong(m.group(1));
            }
        } else if ((m = NodeProgress.match(NodeProgress.NBD_EXPORT, line)) != null) {
            nbdPort = Integer.parseInt(m.group(3));
        }
    }

    long pid() {
        return process.pid();
    }

    boolean alive() {
        return process != null && process.isAlive();
    }

    /** SIGKILL, and wait for the process to be gone. */
    void kill() throws InterruptedException {
        if (process == null) return;
        // through the handle: Process.destroy* would also close our end of its stdout and lose its last lines
        process.toHandle().destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    /** SIGTERM (graceful leave). */
    void signalTerm() {
        process.toHandle().destroy();
    }

    /** The exit code, or -1 when it did not exit within {@code seconds} (then it is killed). */
    int awaitExit(long seconds) throws InterruptedException {
        if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
            kill();
            return -1;
        }
        reader.join(TimeUnit.SECONDS.toMillis(10));
        return process.exitValue();
    }

    /** Kills the process if it still runs (cleanup; never throws). */
    void destroy() {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            try {
                process.waitFor(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The last lines of the node's log (for a failure report). */
    List<String> logTail(int lines) {
        try {
            List<String> all = Files.readAllLines(errLog, StandardCharsets.UTF_8);
            return new ArrayList<>(all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return List.of("(no log: " + e.getMessage() + ")");
        }
    }
}
