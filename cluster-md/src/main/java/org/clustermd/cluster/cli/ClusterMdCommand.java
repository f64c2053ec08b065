package org.clustermd.cluster.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The top command {@code clustermd}. Its {@code subcommands} list below is the one place verbs
 * are registered: adding a verb is adding its class there.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "clustermd",
        // inherited: every verb gets --help and --version without declaring them
        scope = ScopeType.INHERIT,
        mixinStandardHelpOptions = true,
        versionProvider = ClusterMdVersion.class,
        description = "Clustered RAID1 (md-cluster) in user space, coordinated by a DLM on ZooKeeper.",
        subcommands = {
            DemoCommand.class,
            CreateCommand.class,
            ExamineCommand.class,
            NodeCommand.class,
            ZkCommand.class,
            DlmCommand.class,
            DetailCommand.class,
            StatusCommand.class,
            ManageCommand.class,
        })
public final class ClusterMdCommand implements Runnable {
    @Spec
    CommandSpec spec;

    /** Applies to every verb: {@code clustermd --verbose zk} and {@code clustermd zk --verbose} both work. */
    @Option(
            names = {"-v", "--verbose"},
            scope = ScopeType.INHERIT,
            description = "Log INFO and above to stderr (default: WARN and above).")
    void verbose(boolean on) {
        CliLogging.setVerbose(on);
    }

    /** {@code clustermd} alone is a usage error: it names no verb. */
    @Override
    public void run() {
        throw new ParameterException(
                spec.commandLine(), "Missing verb: one of " + spec.subcommands().keySet());
    }
}
