package org.clustermd.cluster.cli;

import java.io.PrintWriter;
import picocli.CommandLine;

/**
 * Entry point of {@code bin/clustermd}: parses the command line, runs the verb and exits with
 * its code (0 ok, 1 failed, 2 usage error).
 *
 * <p>Stateless; {@link #run} may be called from any thread (each call builds its own parser).
 */
public final class ClusterMdMain {
    private ClusterMdMain() {}

    public static void main(String[] args) {
        // picocli calls the --verbose setter only when the option is given: quiet the ZooKeeper
        // client's per-attempt stack traces here, so a plain run is quiet too
        CliLogging.setVerbose(false);
        System.exit(run(args, new PrintWriter(System.out, true), new PrintWriter(System.err, true)));
    }

    /** Runs one command line with the given streams and returns the exit code. */
    public static int run(String[] args, PrintWriter out, PrintWriter err) {
        return commandLine(out, err).execute(args);
    }

    /** The configured parser, with every verb registered. */
    static CommandLine commandLine(PrintWriter out, PrintWriter err) {
        CommandLine cli = new CommandLine(new ClusterMdCommand());
        HelpLayout.install(cli);
        cli.setOut(out);
        cli.setErr(err);
        cli.setExecutionExceptionHandler(ClusterMdMain::failed);
        cli.setParameterExceptionHandler(ClusterMdMain::usage);
        return cli;
    }

    /** A bad value: one line on stderr naming it and where the usage is, exit 2 (not the whole usage text). */
    private static int usage(CommandLine.ParameterException e, String[] args) {
        CommandLine cmd = e.getCommandLine();
        String verb = cmd.getCommandSpec().qualifiedName();
        String message =
                e.getMessage() == null ? e.toString() : e.getMessage().strip().replace('\n', ' ');
        cmd.getErr().println(verb + ": " + message + " (" + verb + " --help shows the usage)");
        if (CliLogging.isVerbose()) e.printStackTrace(cmd.getErr());
        cmd.getErr().flush();
        return cmd.getCommandSpec().exitCodeOnInvalidInput();
    }

    /** An operation that threw: one line on stderr saying why (the stack trace only with --verbose), exit 1. */
    private static int failed(Exception e, CommandLine cli, CommandLine.ParseResult parsed) {
        String verb = cli.getCommandName();
        String prefix = "clustermd".equals(verb) ? "clustermd: " : "clustermd " + verb + ": ";
        cli.getErr().println(prefix + (e.getMessage() == null ? e.toString() : e.getMessage()));
        if (CliLogging.isVerbose()) {
            e.printStackTrace(cli.getErr());
        }
        cli.getErr().flush();
        return CommandLine.ExitCode.SOFTWARE;
    }
}
