package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.clustermd.raid1.admin.ExamineReport;
import org.clustermd.raid1.admin.Examiner;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd examine LEG [--json]}: a leg's md superblock and the summary of every bitmap
 * slot, read without assembling anything (mdadm {@code --examine} plus {@code --examine-bitmap}).
 * The JSON uses md's field names ({@code set_uuid}, {@code raid_disks}, {@code dev_roles}, ...,
 * and a {@code bitmap} object with {@code nodes}, {@code cluster_name}, {@code chunksize} and
 * per-slot {@code events} and {@code dirty}): the engine's {@link ExamineReport#fields()},
 * written by {@link Json}. A leg without a superblock fails (exit 1) naming the leg and
 * the field. A superblock with something md would refuse or ignore (a wrong checksum, an invalid
 * bitmap or slot) is printed whole, as mdadm prints it, and then the command fails (exit 1) with
 * the first problem on stderr, so a script cannot take a damaged leg for a good one.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "examine",
        description = "Show a leg's superblock and bitmap slots (mdadm --examine and --examine-bitmap). As text, or "
                + "with --json as one JSON object with md's field names.")
final class ExamineCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--json", description = "One JSON object with md's field names instead of text.")
    boolean json;

    @Parameters(arity = "1", paramLabel = "LEG", description = "A leg: a file or block device.")
    Path leg;

    @Override
    public Integer call() throws IOException {
        ExamineReport r = Examiner.examine(leg);
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.pretty(r.fields()));
        } else {
            out.print(r.toText());
        }
        out.flush();
        if (!r.problems().isEmpty()) {
            String more =
                    r.problems().size() > 1 ? " (and " + (r.problems().size() - 1) + " more, listed on stdout)" : "";
            throw new IOException(leg + ": " + r.problems().get(0) + more);
        }
        return 0;
    }
}
