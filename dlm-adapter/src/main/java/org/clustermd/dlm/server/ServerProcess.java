package org.clustermd.dlm.server;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One server of a {@link ZooKeeperProcessEnsemble}: its ports, its directory (zoo.cfg, data,
 * server.log) and its current JVM process, which it launches, SIGKILLs, SIGSTOPs and SIGCONTs.
 *
 * <p>Not thread-safe: the ensemble calls it under its own lock.
 */
final class ServerProcess {
    private static final Logger LOG = LoggerFactory.getLogger(ServerProcess.class);
    private static final Duration EXIT_WAIT = Duration.ofSeconds(15);

    final int index;
    final Path dir;
    final int clientPort;
    final int quorumPort;
    final int electionPort;
    private final List<String> launchCommand;
    private final Collection<Process> live;
    ProcessState state = ProcessState.NOT_STARTED;
    Process process;

    /**
     * @param launchCommand the java command line up to and including the main class; the
     *     path of this server's zoo.cfg is appended
     * @param live where every launched, not yet reaped process is registered, for cleanup
     */
    ServerProcess(
            int index,
            Path dir,
            int clientPort,
            int quorumPort,
            int electionPort,
            List<String> launchCommand,
            Collection<Process> live) {
        this.index = index;
        this.dir = dir;
        this.clientPort = clientPort;
        this.quorumPort = quorumPort;
        this.electionPort = electionPort;
        this.launchCommand = List.copyOf(launchCommand);
        this.live = live;
    }

    void writeConfig(String common) throws EmbeddedServerException {
        Path data = dir.resolve("data");
        try {
            Files.createDirectories(data);
            Files.writeString(data.resolve("myid"), Integer.toString(index + 1), StandardCharsets.US_ASCII);
            Files.writeString(
                    dir.resolve("zoo.cfg"),
                    common + "dataDir=" + data + "\nclientPort=" + clientPort + "\n",
                    StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.DATA_DIR, "cannot write the configuration of " + this + ": " + e, e);
        }
    }

    /** Notices a process that died on its own. */
    void refresh() {
        if (process != null && !process.isAlive() && state != ProcessState.DEAD) {
            LOG.warn(
                    "{} exited by itself with status {}; see {}", this, process.exitValue(), dir.resolve("server.log"));
            state = ProcessState.DEAD;
            live.remove(process);
        }
    }

    void launch() throws EmbeddedServerException {
        ProcessState next = state.on(ProcessState.Signal.LAUNCH);
        List<String> command = new ArrayList<>(launchCommand);
        command.add(dir.resolve("zoo.cfg").toString());
        ProcessBuilder pb = new ProcessBuilder(command)
                .directory(dir.toFile())
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(
                        dir.resolve("server.log").toFile()));
        try {
            process = pb.start();
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.PROCESS, "cannot launch " + this + ": " + e, e);
        }
        live.add(process);
        state = next;
        LOG.info("launched {} as pid {}", this, process.pid());
    }

    void kill() throws EmbeddedServerException {
        refresh();
        if (process == null || state == ProcessState.DEAD) {
            return;
        }
        Process p = process;
        p.destroyForcibly();
        try {
            if (!p.waitFor(EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS)) {
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.PROCESS,
                        this + " (pid " + p.pid() + ") survived SIGKILL for " + EXIT_WAIT.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.INTERRUPTED, "interrupted while killing " + this, e);
        }
        live.remove(p);
        state = state.on(ProcessState.Signal.SIGKILL);
    }

    void signal(ProcessState.Signal signal, String killFlag) throws EmbeddedServerException {
        refresh();
        ProcessState next = state.on(signal);
        long pid = process.pid();
        try {
            Process k = new ProcessBuilder("kill", killFlag, Long.toString(pid))
                    .redirectErrorStream(true)
                    .start();
            String out = new String(k.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (k.waitFor() != 0) {
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.PROCESS,
                        "kill " + killFlag + " " + pid + " failed for " + this + ": " + out);
            }
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.PROCESS, "cannot run kill " + killFlag + " for " + this + ": " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.INTERRUPTED, "interrupted while signalling " + this, e);
        }
        state = next;
    }

    @Override
    public String toString() {
        return "ZooKeeper server " + index + " (id " + (index + 1) + ", client port " + clientPort + ")";
    }
}
