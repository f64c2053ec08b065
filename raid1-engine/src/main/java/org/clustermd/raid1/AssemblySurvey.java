package org.clustermd.raid1;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;

/**
 * What an assembly of these legs would do, found out read-only before anything is written:
 * mdadm {@code --assemble}'s look at the superblocks before it starts an array. Each leg is
 * either usable (it would be a member or a spare) or not, with the reason (another array, a
 * corrupted superblock, non-fresh, ...), by the same rules {@link Raid1Array#assemble} applies.
 *
 * <p>Why it exists: an assembly that kicks a leg records it as missing in the superblock it
 * then writes, and the kicked leg is non-fresh from then on, with no way back in a cluster but a
 * full recovery. mdadm therefore refuses to start an array with fewer legs than its superblock
 * last listed unless told {@code --run}; {@link #degraded()} is that test.
 *
 * <p>Which array: the legs whose set_name is {@code arrayName} (or {@code host:arrayName}); among
 * those, the array of the first such leg given, as mdadm takes the first device's identity
 * when none is configured. Legs of another array are never assembled with it, however fresh.
 *
 * <p>Immutable; thread-safe.
 */
public final class AssemblySurvey {
    private final String setName;
    private final UUID uuid;
    private final int listedRoles;
    private final int usableRoles;
    private final List<Path> usable;
    private final List<KickedLeg> unusable;

    private AssemblySurvey(
            String setName, UUID uuid, int listedRoles, int usableRoles, List<Path> usable, List<KickedLeg> unusable) {
        this.setName = setName;
        this.uuid = uuid;
        this.listedRoles = listedRoles;
        this.usableRoles = usableRoles;
        this.usable = List.copyOf(usable);
        this.unusable = List.copyOf(unusable);
    }

    /**
     * Surveys {@code paths} (opened read-only, closed before return) for the array named
     * {@code arrayName}.
     *
     * @throws Raid1Exception ASSEMBLY when no leg belongs to that array or none is in sync
     * @throws IOException a leg cannot be opened
     */
    public static AssemblySurvey of(List<Path> paths, String arrayName) throws IOException {
        List<BlockDevice> open = new ArrayList<>();
        try {
            Map<BlockDevice, Path> pathOf = new LinkedHashMap<>();
            for (Path p : paths) {
                BlockDevice d =
                        BlockDevices.open(p, BlockDeviceOptions.defaults().withReadOnly(true));
                open.add(d);
                pathOf.put(d, p);
            }
            return survey(arrayName, pathOf);
        } finally {
            Assembler.closeAll(open);
        }
    }

    private static AssemblySurvey survey(String arrayName, Map<BlockDevice, Path> pathOf) throws Raid1Exception {
        List<KickedLeg> unusable = new ArrayList<>();
        List<BlockDevice> candidates = new ArrayList<>();
        Superblock first = null;
        String firstOther = null;
        for (Map.Entry<BlockDevice, Path> e : pathOf.entrySet()) {
            Superblock sb;
            try {
                sb = SuperblockCodec.read(e.getKey());
            } catch (IOException ex) {
                unusable.add(new KickedLeg(e.getValue().toString(), "no valid md superblock: " + ex.getMessage()));
                continue;
            }
            String name = sb.setName();
            if (!name.equals(arrayName) && !name.endsWith(":" + arrayName)) {
                String why = "belongs to array '" + name + "', not '" + arrayName + "'";
                if (firstOther == null) firstOther = e.getValue() + " " + why;
                unusable.add(new KickedLeg(e.getValue().toString(), why));
                continue;
            }
            if (first == null) {
                first = sb;
            } else if (!sb.setUuid().equals(first.setUuid())) {
                unusable.add(new KickedLeg(
                        e.getValue().toString(),
                        "belongs to another array named '" + name + "' (uuid " + SuperblockCodec.mdadmUuid(sb.setUuid())
                                + ", not " + SuperblockCodec.mdadmUuid(first.setUuid()) + ")"));
                continue;
            }
            candidates.add(e.getKey());
        }
        if (first == null) {
            throw new Raid1Exception(
                    Raid1Exception.Code.ASSEMBLY,
                    firstOther != null ? firstOther : arrayName + ": no leg has a valid md superblock: " + unusable);
        }
        Assembler.Assembly a = Assembler.assemble(arrayName, candidates, false);
        for (KickedLeg k : a.kicked()) unusable.add(k);
        Set<String> members = new HashSet<>();
        int usableRoles = 0;
        for (Mirror m : a.members()) {
            members.add(m.name());
            if (m.role() != Mirror.NO_ROLE) usableRoles++;
        }
        List<Path> usable = new ArrayList<>();
        for (BlockDevice d : candidates) {
            if (members.contains(d.name())) usable.add(pathOf.get(d));
        }
        return new AssemblySurvey(
                a.freshest().setName(),
                a.freshest().setUuid(),
                listedRoles(a.freshest()),
                usableRoles,
                usable,
                unusable);
    }

    /** Roles the freshest superblock gives a device: the legs the array had when it was last written. */
    private static int listedRoles(Superblock sb) {
        Set<Integer> roles = new HashSet<>();
        for (int r : sb.devRoles()) {
            if (r < sb.raidDisks()) roles.add(r);
        }
        return roles.size();
    }

    /** set_name of the array found. */
    public String setName() {
        return setName;
    }

    public UUID uuid() {
        return uuid;
    }

    /** Active roles the array's freshest superblock lists (mdadm's working_disks). */
    public int listedRoles() {
        return listedRoles;
    }

    /** Active roles the usable legs would fill. */
    public int usableRoles() {
        return usableRoles;
    }

    /** Whether starting would leave the array with fewer active legs than it last had. */
    public boolean degraded() {
        return usableRoles < listedRoles;
    }

    /** The legs an assembly would take (members and spares), in the order given. */
    public List<Path> usable() {
        return usable;
    }

    /** The legs it would not take, each with the reason. */
    public List<KickedLeg> unusable() {
        return unusable;
    }
}
