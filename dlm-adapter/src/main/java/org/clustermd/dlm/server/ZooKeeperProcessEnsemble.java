package org.clustermd.dlm.server;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A ZooKeeper ensemble of N separate JVM processes ({@code QuorumPeerMain} from the classpath
 * of this JVM, started through {@link ZooKeeperServerProcess}), on free loopback ports, for integration tests that need real process faults:
 * {@link #kill} (SIGKILL), {@link #stop} (SIGSTOP), {@link #cont} (SIGCONT) and
 * {@link #restart} of one server. Servers are numbered 0..N-1 (ZooKeeper's id is the index
 * plus one). Each server has {@code server-<i>/zoo.cfg}, {@code server-<i>/data} and its
 * output in {@code server-<i>/server.log} under the base directory.
 *
 * <pre>{@code
 * try (ZooKeeperProcessEnsemble zk = ZooKeeperProcessEnsemble.builder(3).settings(ZooKeeperSettings.forTests()).build()) {
 *     zk.start();                          // returns once the ensemble served a write
 *     zk.kill(zk.leaderIndex());
 *     zk.awaitQuorum(Duration.ofSeconds(30));
 * }
 * }</pre>
 *
 * <p>Cleanup: {@link #close()} SIGKILLs every process and waits for it, and deletes the base
 * directory when the ensemble created it; a JVM shutdown hook does the killing too if the
 * test never reaches close, and if this JVM is killed outright each server notices that its
 * stdin (a pipe from this JVM) closed and halts itself.
 * The servers answer the four-letter words {@code srvr}, {@code ruok}, {@code stat} and
 * {@code mntr}; {@link #leaderIndex()} uses {@code srvr}.
 *
 * <p>Thread-safe: every method that changes a process is synchronized.
 */
public final class ZooKeeperProcessEnsemble implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(ZooKeeperProcessEnsemble.class);
    public static final Duration DEFAULT_QUORUM_WAIT = Duration.ofSeconds(90);
    /** QuorumPeerMain behind a watchdog that ends the server if this JVM dies without closing it. */
    private static final String MAIN_CLASS = ZooKeeperServerProcess.class.getName();

    private static final int FOUR_LETTER_TIMEOUT_MS = 1_000;
    private static final Duration EXIT_WAIT = Duration.ofSeconds(15);

    private final Path baseDir;
    private final boolean ownsBaseDir;
    private final ZooKeeperSettings settings;
    private final List<ServerProcess> servers;
    /** Every process launched and not yet reaped, for the shutdown hook (which takes no lock). */
    private final List<Process> live = new CopyOnWriteArrayList<>();

    private final Thread shutdownHook;
    private boolean closed;

    private ZooKeeperProcessEnsemble(Builder b) throws EmbeddedServerException {
        this.settings = b.settings;
        try {
            this.ownsBaseDir = b.baseDir == null;
            this.baseDir = (b.baseDir == null ? Files.createTempDirectory("clustermd-zk-ensemble-") : b.baseDir)
                    .toAbsolutePath();
            Files.createDirectories(baseDir);
            Files.writeString(baseDir.resolve("logback-zk.xml"), LOGBACK, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.DATA_DIR, "cannot prepare the ensemble directory: " + e, e);
        }
        List<String> launch = new ArrayList<>();
        launch.add(b.java.toString());
        launch.addAll(b.javaOptions);
        launch.add("-Dlogback.configurationFile=" + baseDir.resolve("logback-zk.xml"));
        launch.add("-Dzookeeper.jmx.log4j.disable=true");
        launch.add("-cp");
        launch.add(b.classpath);
        launch.add(MAIN_CLASS);
        int[] ports = LocalPorts.pick(settings.bindAddress(), 3 * b.size);
        List<ServerProcess> s = new ArrayList<>(b.size);
        for (int i = 0; i < b.size; i++) {
            s.add(new ServerProcess(
                    i, baseDir.resolve("server-" + i), ports[3 * i], ports[3 * i + 1], ports[3 * i + 2], launch, live));
        }
        this.servers = List.copyOf(s);
        String config = configText();
        for (ServerProcess server : servers) {
            server.writeConfig(config);
        }
        this.shutdownHook = new Thread(this::destroyAll, "zk-process-ensemble-cleanup");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** A builder for an ensemble of {@code size} server processes. */
    public static Builder builder(int size) {
        return new Builder(size);
    }

    private String configText() {
        StringBuilder c = new StringBuilder();
        c.append("tickTime=").append(settings.tickTimeMs()).append('\n');
        c.append("initLimit=").append(QuorumMember.INIT_LIMIT_TICKS).append('\n');
        c.append("syncLimit=").append(QuorumMember.SYNC_LIMIT_TICKS).append('\n');
        c.append("minSessionTimeout=").append(settings.minSessionTimeoutMs()).append('\n');
        c.append("maxSessionTimeout=").append(settings.maxSessionTimeoutMs()).append('\n');
        c.append("maxClientCnxns=").append(settings.maxClientCnxns()).append('\n');
        c.append("forceSync=").append(settings.forceSync() ? "yes" : "no").append('\n');
        c.append("clientPortAddress=").append(settings.bindAddress()).append('\n');
        c.append("admin.enableServer=false\n");
        c.append("4lw.commands.whitelist=srvr,ruok,stat,mntr\n");
        for (Map.Entry<String, String> p : settings.authProviders().entrySet()) {
            c.append("authProvider.")
                    .append(p.getKey())
                    .append('=')
                    .append(p.getValue())
                    .append('\n');
        }
        for (ServerProcess s : servers) {
            c.append("server.")
                    .append(s.index + 1)
                    .append('=')
                    .append(QuorumMember.serverLine(settings.bindAddress(), s.quorumPort, s.electionPort, s.clientPort))
                    .append('\n');
        }
        return c.toString();
    }

    /** Launches every server not running and waits up to {@link #DEFAULT_QUORUM_WAIT} for a write. */
    public void start() throws EmbeddedServerException {
        start(DEFAULT_QUORUM_WAIT);
    }

    /** Launches every server not running, then waits until the ensemble serves a write. */
    public void start(Duration quorumWait) throws EmbeddedServerException {
        synchronized (this) {
            checkOpen();
            for (ServerProcess s : servers) {
                s.refresh();
                if (s.state != ProcessState.RUNNING && s.state != ProcessState.FROZEN) {
                    s.launch();
                }
            }
        }
        awaitQuorum(quorumWait);
    }

    /** Waits until the ensemble serves a write through {@link #connectString()}, at most {@code timeout}. */
    public void awaitQuorum(Duration timeout) throws EmbeddedServerException {
        WriteProbe.awaitWrite(connectString(), timeout);
    }

    /** SIGKILLs server {@code index} and waits until it is gone; a no-op if it is dead. */
    public synchronized void kill(int index) throws EmbeddedServerException {
        server(index).kill();
    }

    /** SIGSTOPs server {@code index}: it keeps its sockets but answers nothing until {@link #cont}. */
    public synchronized void stop(int index) throws EmbeddedServerException {
        server(index).signal(ProcessState.Signal.SIGSTOP, "-STOP");
    }

    /** SIGCONTs a server frozen by {@link #stop}. */
    public synchronized void cont(int index) throws EmbeddedServerException {
        server(index).signal(ProcessState.Signal.SIGCONT, "-CONT");
    }

    /** SIGKILLs server {@code index} if it is alive, then launches it again on its ports and data (no wait). */
    public synchronized void restart(int index) throws EmbeddedServerException {
        checkOpen();
        ServerProcess s = server(index);
        s.kill();
        s.launch();
    }

    /** Whether the process of server {@code index} is alive (running or frozen). */
    public synchronized boolean isAlive(int index) {
        ServerProcess s = server(index);
        s.refresh();
        return s.state == ProcessState.RUNNING || s.state == ProcessState.FROZEN;
    }

    /** The pid of server {@code index}'s current process, or -1 if it has none. */
    public synchronized long pid(int index) {
        Process p = server(index).process;
        return p == null ? -1 : p.pid();
    }

    /**
     * The role server {@code index} reports to {@code srvr} ("leader", "follower", ...), or
     * null when it is not running, frozen, or not answering (e.g. still looking for a leader).
     */
    public String mode(int index) {
        ServerProcess s;
        synchronized (this) {
            s = server(index);
            s.refresh();
            if (s.state != ProcessState.RUNNING) {
                return null;
            }
        }
        return fourLetterMode(s.clientPort);
    }

    /** The index of the server that reports itself leader, or -1 when none does. */
    public int leaderIndex() {
        for (int i = 0; i < servers.size(); i++) {
            if ("leader".equals(mode(i))) {
                return i;
            }
        }
        return -1;
    }

    private String fourLetterMode(int port) {
        try (Socket socket = new Socket()) {
            socket.connect(new InetSocketAddress(settings.bindAddress(), port), FOUR_LETTER_TIMEOUT_MS);
            socket.setSoTimeout(FOUR_LETTER_TIMEOUT_MS);
            OutputStream out = socket.getOutputStream();
            out.write("srvr".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            BufferedReader in =
                    new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.US_ASCII));
            for (String line = in.readLine(); line != null; line = in.readLine()) {
                if (line.startsWith("Mode:")) {
                    return line.substring("Mode:".length()).trim();
                }
            }
            return null;
        } catch (IOException e) {
            return null;
        }
    }

    public int size() {
        return servers.size();
    }

    /** All client addresses, comma-separated. */
    public String connectString() {
        return servers.stream()
                .map(s -> settings.bindAddress() + ":" + s.clientPort)
                .collect(Collectors.joining(","));
    }

    /** The client address of server {@code index} alone. */
    public String connectString(int index) {
        return settings.bindAddress() + ":" + server(index).clientPort;
    }

    public int clientPort(int index) {
        return server(index).clientPort;
    }

    /** The file that collects the output of server {@code index}. */
    public Path logFile(int index) {
        return server(index).dir.resolve("server.log");
    }

    public Path baseDir() {
        return baseDir;
    }

    /** SIGKILLs every process, waits for each, and deletes the base directory if this ensemble created it. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (ServerProcess s : servers) {
            try {
                s.kill();
            } catch (EmbeddedServerException | RuntimeException e) {
                LOG.warn("killing {} failed: {}", s, e.toString());
            }
        }
        destroyAll();
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException e) {
            // the JVM is already shutting down and runs the hook itself
        }
        if (ownsBaseDir) {
            deleteTree(baseDir);
        }
    }

    private void destroyAll() {
        for (Process p : live) {
            p.destroyForcibly();
        }
        for (Process p : live) {
            try {
                p.waitFor(EXIT_WAIT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
            live.remove(p);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            LOG.warn("could not delete {}: {}", root, e.toString());
        }
    }

    private ServerProcess server(int index) {
        Objects.checkIndex(index, servers.size());
        return servers.get(index);
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("ensemble is closed");
        }
    }

    @Override
    public String toString() {
        return "ZooKeeperProcessEnsemble[" + connectString() + ", " + baseDir + "]";
    }

    /** Collects the options of a process ensemble. Not thread-safe. */
    public static final class Builder {
        private final int size;
        private Path baseDir;
        private ZooKeeperSettings settings = ZooKeeperSettings.defaults();
        private List<String> javaOptions = List.of("-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1");
        private String classpath = System.getProperty("java.class.path");
        private Path java = Paths.get(System.getProperty("java.home"), "bin", "java");

        private Builder(int size) {
            if (size < 1) {
                throw new IllegalArgumentException("an ensemble needs at least one server, got " + size);
            }
            this.size = size;
        }

        /** Where the servers keep configuration, data and logs; default a new temporary directory, deleted on close. */
        public Builder baseDir(Path dir) {
            this.baseDir = Objects.requireNonNull(dir, "baseDir");
            return this;
        }

        public Builder settings(ZooKeeperSettings s) {
            this.settings = Objects.requireNonNull(s, "settings");
            return this;
        }

        /** JVM options of each server process; default a small heap and a quick-starting JIT. */
        public Builder javaOptions(List<String> options) {
            this.javaOptions = List.copyOf(options);
            return this;
        }

        /** The classpath of the server processes; default this JVM's (it must hold ZooKeeper and its dependencies). */
        public Builder classpath(String cp) {
            this.classpath = Objects.requireNonNull(cp, "classpath");
            return this;
        }

        /** The java launcher; default the one running this JVM. */
        public Builder java(Path launcher) {
            this.java = Objects.requireNonNull(launcher, "java");
            return this;
        }

        /** Writes the configuration and picks the ports; {@link ZooKeeperProcessEnsemble#start()} launches. */
        public ZooKeeperProcessEnsemble build() throws EmbeddedServerException {
            return new ZooKeeperProcessEnsemble(this);
        }
    }

    private static final String LOGBACK = """
            <configuration>
              <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                <encoder><pattern>%d{HH:mm:ss.SSS} [%thread] %-5level %logger{36} - %msg%n</pattern></encoder>
              </appender>
              <root level="INFO"><appender-ref ref="OUT"/></root>
            </configuration>
            """;
}
