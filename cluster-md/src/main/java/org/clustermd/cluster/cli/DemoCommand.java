package org.clustermd.cluster.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd demo}: see {@link Demo}. Exit 0 only when every acknowledged write was found
 * intact and the legs are identical, 1 otherwise. The hidden options exist for tests.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "demo",
        description = "Three nodes on a clustered RAID1, one killed with SIGKILL, its writes recovered. Starts an "
                + "embedded ZooKeeper and three node processes on two temporary files, each exporting the array over "
                + "NBD; an NBD client per node writes that node's share of the blocks and logs what the export "
                + "acknowledged durable. Kills one node with SIGKILL, shows the survivors recover its dirty chunks and "
                + "resync them live (with their status), reads every acknowledged write back through NBD, stops the "
                + "survivors, then checks every acknowledged write again and compares the legs. Exits 0 only if all "
                + "is intact.")
final class DemoCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--leg-size",
            hidden = true,
            defaultValue = "192M",
            converter = Sizes.Converter.class,
            paramLabel = "SIZE")
    long legSize;

    @Option(names = "--write-seconds", hidden = true, defaultValue = "5", paramLabel = "S")
    double writeSeconds;

    @Option(names = "--session-timeout", hidden = true, defaultValue = "3000", paramLabel = "MS")
    long sessionTimeoutMs;

    /**
     * How the nodes share the blocks (see {@link DemoLayout}): interleaved by default, so every
     * chunk has writers on every node and the peers' RESYNCING windows are what keeps the legs equal.
     */
    @Option(names = "--layout", hidden = true, defaultValue = "interleaved", paramLabel = "disjoint|interleaved")
    String layout;

    /**
     * Create without --assume-clean (the default), so the initial resync runs under every node's
     * writes; {@code --no-initial-resync} creates with --assume-clean and starts the writers once
     * every node joined.
     */
    @Option(names = "--initial-resync", hidden = true, negatable = true, defaultValue = "true", fallbackValue = "true")
    boolean initialResync;

    @Override
    public Integer call() {
        if (legSize < (16L << 20)) throw new ParameterException(spec.commandLine(), "--leg-size must be at least 16M");
        if (writeSeconds <= 0 || writeSeconds > 600)
            throw new ParameterException(spec.commandLine(), "--write-seconds must be in (0, 600]");
        if (sessionTimeoutMs < 1000 || sessionTimeoutMs > 60_000) {
            throw new ParameterException(spec.commandLine(), "--session-timeout must be 1000..60000 ms");
        }
        DemoLayout shares;
        try {
            shares = DemoLayout.valueOf(layout.toUpperCase(java.util.Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new ParameterException(spec.commandLine(), "--layout must be disjoint or interleaved: " + layout);
        }
        return new Demo(
                        spec.commandLine().getOut(),
                        legSize,
                        Math.round(writeSeconds * 1000),
                        sessionTimeoutMs,
                        shares,
                        initialResync)
                .run();
    }
}
