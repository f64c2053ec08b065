package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.sb.SuperblockCodec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd create}: writes v1.2 superblocks and a clustered write-intent bitmap to every
 * leg (the {@code mdadm --create --level=1 --bitmap=clustered} analog, through the engine's
 * {@link ArrayCreator}). Without {@code --assume-clean} the first node to assemble resyncs the
 * whole array, as md does. Prints what it wrote on stdout.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(name = "create", description = {
    "Create a clustered RAID1 array (mdadm --create --bitmap=clustered).",
    "Writes a v1.2 superblock and a clustered write-intent bitmap with one slot per node",
    "to each leg.",
    "SIZE is a number of KiB, or a number with a K, M, G or T suffix."})
final class CreateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--name", required = true, paramLabel = "NAME", description = "Array name (set_name, 1 to 32 bytes), e.g. md0.")
    String name;

    @Option(names = "--cluster-name", required = true, paramLabel = "C",
            description = "Cluster name written to the bitmap (at most 63 bytes); nodes join the cluster of that name.")
    String clusterName;

    @Option(names = "--nodes", required = true, paramLabel = "N", description = "Bitmap slots: how many nodes may use the array (1 to 64).")
    int nodes;

    @Option(names = "--raid-devices", paramLabel = "K", description = "Active legs (default: every leg that is not a spare).")
    Integer raidDevices;

    @Option(names = "--spare-devices", defaultValue = "0", paramLabel = "S", description = "Spare legs, the last S given (default: ${DEFAULT-VALUE}).")
    int spareDevices;

    @Option(names = "--assume-clean", description = "Skip the initial resync (the legs are known to be identical, e.g. zeroed).")
    boolean assumeClean;

    @Option(names = "--bitmap-chunk", paramLabel = "SIZE", converter = Sizes.Converter.class,
            description = "Bytes per bitmap bit: a power of two, at least 4K (default: 64M).")
    Long bitmapChunk;

    @Option(names = "--size", paramLabel = "SIZE", converter = Sizes.Converter.class,
            description = "Space used on each leg, a multiple of 4K (default: as much as the smallest leg allows).")
    Long size;

    @Parameters(arity = "1..*", paramLabel = "LEG", description = "The legs: files or block devices, each at least a few MiB.")
    List<Path> legs;

    @Override
    public Integer call() throws IOException {
        CreateOptions options = options();
        CreateResult r = ArrayCreator.create(options, legs);
        PrintWriter out = spec.commandLine().getOut();
        int raid = legs.size() - spareDevices;
        out.printf("created %s: raid1 on %d legs (%d active, %d spare), uuid %s%n", name, legs.size(), raid, spareDevices,
                SuperblockCodec.mdadmUuid(r.uuid()));
        out.printf("  size %d KiB (%s) per leg from data offset %d sectors%n", r.sizeSectors() / 2,
                Sizes.human(r.sizeSectors() * 512), r.dataOffset());
        out.printf("  bitmap clustered: cluster %s, %d node slots, chunk %s%n", clusterName, nodes,
                Sizes.human(options.bitmapChunk()));
        out.println(assumeClean ? "  clean: no initial resync (--assume-clean)" : "  the first node to assemble resyncs the array");
        for (int i = 0; i < legs.size(); i++) {
            out.printf("  %s: %s%n", legs.get(i), i < raid ? "active device " + i : "spare");
        }
        out.flush();
        return 0;
    }

    /** The options, every range checked here so a bad value is a usage error (exit 2). */
    private CreateOptions options() {
        if (raidDevices != null && raidDevices + spareDevices != legs.size()) {
            throw usage("--raid-devices " + raidDevices + " + --spare-devices " + spareDevices + " must be the "
                    + legs.size() + " legs given");
        }
        if (spareDevices >= legs.size()) throw usage("--spare-devices " + spareDevices + " leaves no active leg among " + legs.size());
        try {
            CreateOptions.Builder b = CreateOptions.builder(name).clusterName(clusterName).nodes(nodes)
                    .spareDevices(spareDevices).assumeClean(assumeClean);
            if (raidDevices != null) b.raidDevices(raidDevices);
            if (bitmapChunk != null) b.bitmapChunk(bitmapChunk);
            if (size != null) b.sizeBytes(size);
            return b.build();
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
