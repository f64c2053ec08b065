package org.clustermd.cluster.cli;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.clustermd.dlm.server.EmbeddedServerException;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd zk}: runs the embedded standalone ZooKeeper server in the foreground. The
 * connect string is the first (and only) line on stdout, printed once the server serves;
 * SIGTERM or SIGINT stops it and exits 0. A server that fails while running exits 1.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "zk",
        description = "Run the embedded ZooKeeper server in the foreground until SIGTERM or SIGINT. Prints the connect "
                + "string (HOST:PORT) on stdout once it serves.")
final class ZkCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--port",
            defaultValue = "2181",
            paramLabel = "PORT",
            description = "Client port; 0 picks a free one (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(
            names = "--data",
            defaultValue = "clustermd-zk",
            paramLabel = "DIR",
            description =
                    "Directory for snapshots and the transaction log; kept across runs (default: ./${DEFAULT-VALUE}).")
    Path data;

    @Option(
            names = "--tick-time",
            defaultValue = "2000",
            paramLabel = "MS",
            description = "ZooKeeper tickTime; sessions may last 2 to 20 ticks (default: ${DEFAULT-VALUE}).")
    int tickTime;

    @Option(
            names = "--bind",
            defaultValue = ZooKeeperSettings.LOOPBACK,
            paramLabel = "ADDR",
            description = "Address of the client port (default: ${DEFAULT-VALUE}, this machine only).")
    String bind;

    @Override
    public Integer call() throws EmbeddedServerException, InterruptedException {
        if (port < 0 || port > 65535) {
            throw new ParameterException(spec.commandLine(), "--port must be 0..65535, got " + port);
        }
        if (tickTime <= 0) {
            throw new ParameterException(spec.commandLine(), "--tick-time must be positive, got " + tickTime);
        }
        ZooKeeperSettings settings = ZooKeeperSettings.builder()
                .bindAddress(bind)
                .tickTimeMs(tickTime)
                .build();
        ForegroundSignals signals = ForegroundSignals.install();
        EmbeddedZooKeeper server = EmbeddedZooKeeper.start(data.toAbsolutePath(), port, settings);
        Thread hook = new Thread(server::close, "clustermd-zk-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        server.failure().thenAccept(signals::stop);
        spec.commandLine().getOut().println(server.connectString());
        spec.commandLine().getOut().flush();
        spec.commandLine()
                .getErr()
                .println("clustermd zk: serving " + server.connectString() + ", data in " + server.dataDir()
                        + "; stop with SIGTERM or Ctrl-C");
        spec.commandLine().getErr().flush();
        String why;
        try {
            why = signals.await();
        } finally {
            server.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook runs and finds the server closed
            }
        }
        if (why != null && why.startsWith("SIG")) {
            spec.commandLine().getErr().println("clustermd zk: " + why + ", stopped");
            return 0;
        }
        spec.commandLine().getErr().println("clustermd zk: " + why);
        return 1;
    }
}
