package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.clustermd.dlm.zk.LockSpaceDump;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.admin.ExamineReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.admin.LegIdentity;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.sb.SuperblockFormatException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd create}: writes v1.2 superblocks and a clustered write-intent bitmap to every
 * leg (the {@code mdadm --create --level=1 --bitmap=clustered} analog, through the engine's
 * {@link ArrayCreator}). Without {@code --assume-clean} the first node to assemble resyncs the
 * whole array, as md does. Prints what it wrote on stdout.
 *
 * <p>Creating over an array destroys it, and over an array that nodes have assembled it also
 * mixes old and new metadata on the legs as the nodes keep writing theirs. So, as mdadm asks
 * "appears to be part of a raid array ... Continue creating array?", legs holding an md
 * superblock are refused unless {@code --force}; and even with it, while that array's lockspace
 * has members (asked of ZooKeeper with {@code --zk}); without {@code --zk} it says that it
 * could not check. Same device twice, and nothing written until every leg is proven writable:
 * see {@link ArrayCreator}.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "create",
        description =
                "Create a clustered RAID1 array (mdadm --create --bitmap=clustered). Writes a v1.2 superblock and "
                        + "a clustered write-intent bitmap with one slot per node to each leg. SIZE is a number of KiB, or "
                        + "a number with a K, M, G or T suffix. Legs that hold an md superblock are refused unless --force, "
                        + "and with it while the array has members in ZooKeeper (--zk).")
final class CreateCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(
            names = "--name",
            required = true,
            paramLabel = "NAME",
            description = "Array name (set_name, 1 to 32 bytes), e.g. md0.")
    String name;

    @Option(
            names = "--cluster-name",
            required = true,
            paramLabel = "C",
            description = "Cluster name written to the bitmap (at most 63 bytes); nodes join the cluster of that name.")
    String clusterName;

    @Option(
            names = "--nodes",
            required = true,
            paramLabel = "N",
            description = "Bitmap slots: how many nodes may use the array (1 to 64).")
    int nodes;

    @Option(
            names = "--raid-devices",
            paramLabel = "K",
            description = "Active legs (default: every leg that is not a spare).")
    Integer raidDevices;

    @Option(
            names = "--spare-devices",
            defaultValue = "0",
            paramLabel = "S",
            description = "Spare legs, the last S given (default: ${DEFAULT-VALUE}).")
    int spareDevices;

    @Option(
            names = "--assume-clean",
            description = "Skip the initial resync (the legs are known to be identical, e.g. zeroed).")
    boolean assumeClean;

    @Option(
            names = "--bitmap-chunk",
            paramLabel = "SIZE",
            converter = Sizes.Converter.class,
            description = "Bytes per bitmap bit: a power of two, at least 4K (default: 64M).")
    Long bitmapChunk;

    @Option(
            names = "--size",
            paramLabel = "SIZE",
            converter = Sizes.Converter.class,
            description = "Space used on each leg, a multiple of 4K (default: as much as the smallest leg allows).")
    Long size;

    @Option(
            names = "--force",
            description = "Create over legs that hold an md superblock (the array on them is lost), "
                    + "and a RAID1 of one leg.")
    boolean force;

    @Option(
            names = "--zk",
            paramLabel = "HOST:PORT[,...]",
            description =
                    "ZooKeeper of the cluster: with --force, refuse while the array on the legs has members there.")
    String zk;

    @Parameters(
            arity = "1..*",
            paramLabel = "LEG",
            description = "The legs: files or block devices, each at least a few MiB.")
    List<Path> legs;

    @Override
    public Integer call() throws IOException {
        CreateOptions options = options();
        LegIdentity.requireDistinct(legs);
        refuseOverwritingAnArrayInUse();
        CreateResult r = ArrayCreator.create(options, legs);
        PrintWriter out = spec.commandLine().getOut();
        int raid = legs.size() - spareDevices;
        out.printf(
                "created %s: raid1 on %d legs (%d active, %d spare), uuid %s%n",
                name, legs.size(), raid, spareDevices, SuperblockCodec.mdadmUuid(r.uuid()));
        out.printf(
                "  size %d KiB (%s) per leg from data offset %d sectors%n",
                r.sizeSectors() / 2, Sizes.human(r.sizeSectors() * 512), r.dataOffset());
        out.printf(
                "  bitmap clustered: cluster %s, %d node slots, chunk %s%n",
                clusterName, nodes, Sizes.human(options.bitmapChunk()));
        out.println(
                assumeClean
                        ? "  clean: no initial resync (--assume-clean)"
                        : "  the first node to assemble resyncs the array");
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
        if (spareDevices >= legs.size())
            throw usage("--spare-devices " + spareDevices + " leaves no active leg among " + legs.size());
        if (clusterName.isEmpty())
            throw usage("--cluster-name must not be empty: the nodes join the cluster of that name");
        if (size != null && size == 0) throw usage("--size: invalid size: 0");
        int active = raidDevices != null ? raidDevices : legs.size() - spareDevices;
        if (active == 1 && !force) {
            throw usage(
                    "a RAID1 of 1 active leg has no second copy, so it is probably a mistake; give --force if you mean it");
        }
        if (zk != null) {
            try {
                ZkConnectString.check(zk);
            } catch (IllegalArgumentException e) {
                throw usage("--zk: " + e.getMessage());
            }
        }
        try {
            CreateOptions.Builder b = CreateOptions.builder(name)
                    .clusterName(clusterName)
                    .nodes(nodes)
                    .spareDevices(spareDevices)
                    .assumeClean(assumeClean);
            if (raidDevices != null) b.raidDevices(raidDevices);
            if (bitmapChunk != null) b.bitmapChunk(bitmapChunk);
            if (size != null) b.sizeBytes(size);
            return b.build();
        } catch (IllegalArgumentException e) {
            throw usage(e.getMessage());
        }
    }

    /** One leg that already holds an md superblock. */
    private record Found(Path leg, ExamineReport report, String damage) {
        String describe() {
            if (report == null) return leg + " holds a damaged md superblock (" + damage + ")";
            Superblock sb = report.superblock();
            return leg + " appears to be part of array '" + sb.setName() + "' (uuid "
                    + SuperblockCodec.mdadmUuid(sb.setUuid()) + ", raid" + sb.level() + ", " + sb.raidDisks()
                    + " devices, created " + Superblock.instantOf(sb.ctime()) + ")";
        }
    }

    private void refuseOverwritingAnArrayInUse() throws IOException {
        List<Found> found = new ArrayList<>();
        for (Path leg : legs) {
            try {
                found.add(new Found(leg, Examiner.examine(leg), null));
            } catch (SuperblockFormatException e) {
                if (e.field() != SuperblockFormatException.Field.MAGIC
                        && e.field() != SuperblockFormatException.Field.DEVICE) {
                    found.add(new Found(leg, null, e.getMessage()));
                }
            }
        }
        if (found.isEmpty()) return;
        String what = found.stream().map(Found::describe).collect(Collectors.joining("; "));
        if (!force) {
            throw new Raid1Exception(
                    Raid1Exception.Code.BUSY,
                    what + ": creating over it destroys that array; " + "give --force if no node uses it");
        }
        PrintWriter err = spec.commandLine().getErr();
        Map<UUID, String> clusters = new LinkedHashMap<>();
        for (Found f : found) {
            if (f.report() == null) {
                err.println("clustermd create: warning: " + f.describe() + ": could not check whether a node uses it");
                continue;
            }
            String cluster = f.report().bitmap().map(b -> b.clusterName()).orElse("");
            if (!cluster.isEmpty()) clusters.putIfAbsent(f.report().superblock().setUuid(), cluster);
        }
        if (clusters.isEmpty()) return;
        if (zk == null) {
            err.println(
                    "clustermd create: warning: could not check that no node has the array(s) on these legs assembled "
                            + "(give --zk to ask ZooKeeper); overwriting them (--force)");
            err.flush();
            return;
        }
        for (Map.Entry<UUID, String> e : clusters.entrySet()) {
            List<LockSpaceDump.Member> members = members(e.getValue(), e.getKey());
            if (!members.isEmpty()) {
                String who = members.stream()
                        .map(m -> m.nodeName() + " (slot " + m.slot() + ")")
                        .collect(Collectors.joining(", "));
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY,
                        "array " + SuperblockCodec.mdadmUuid(e.getKey())
                                + " on these legs is in use: " + who + " in cluster " + e.getValue() + " at " + zk
                                + "; stop those nodes first (even --force does not create over a running array)");
            }
        }
    }

    /** The live members of the array's lockspace (named by its uuid) in {@code cluster}. */
    private List<LockSpaceDump.Member> members(String cluster, UUID uuid) throws IOException {
        try (ZkLockManager m = ZkLockManager.builder()
                .connectString(zk)
                .cluster(cluster)
                .nodeName("clustermd-create")
                .connectionTimeout(Duration.ofSeconds(10))
                .build()) {
            return LockSpaceDump.members(
                    m.curator().getZookeeperClient().getZooKeeper(), "/clustermd", cluster, uuid.toString());
        } catch (IllegalArgumentException e) {
            return List.of(); // a cluster name the lock manager cannot hold: no node can have joined it
        } catch (Exception e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.CLUSTER,
                    "could not ask ZooKeeper at " + zk + " whether array " + SuperblockCodec.mdadmUuid(uuid)
                            + " is in use, so nothing was written: " + e.getMessage(),
                    e);
        }
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }
}
