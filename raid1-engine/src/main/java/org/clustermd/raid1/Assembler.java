package org.clustermd.raid1;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code analyze_sbs} + {@code super_1_validate} for raid1: reads every leg's superblock,
 * picks the freshest (highest events), and decides each leg's part from the freshest
 * superblock's dev_roles:
 * <ul>
 *   <li>an active role and events at most one behind the freshest (md's {@code ++ev1}
 *       allowance): IN_SYNC, or REBUILDING from its own recovery_offset when it carries
 *       MD_FEATURE_RECOVERY_OFFSET;</li>
 *   <li>an active role but older events: kicked as non-fresh (re-add it: the bitmap decides
 *       how much to recover);</li>
 *   <li>spare in the freshest: SPARE, unless the leg's own superblock says it held a role and
 *       lags in events (kicked: adding it as a spare would throw away what a re-add can
 *       use);</li>
 *   <li>faulty, journal, another array's UUID, an unreadable or invalid superblock, a second
 *       leg with the same dev_number or role: kicked, each with its reason.</li>
 * </ul>
 * Kicked legs are closed. Assembly fails if no leg is IN_SYNC.
 *
 * <p>Stateless; thread-safe.
 */
final class Assembler {
    private static final Logger log = LoggerFactory.getLogger(Assembler.class);

    /** The outcome. */
    record Assembly(
            Superblock freshest, List<Mirror> members, Map<Integer, Superblock> superblocks, List<KickedLeg> kicked) {}

    private Assembler() {}

    static Assembly assemble(String what, List<BlockDevice> legs) throws Raid1Exception {
        return assemble(what, legs, true);
    }

    /** {@code warn}: log each kick (an {@link AssemblySurvey} reports them itself and would log them twice). */
    static Assembly assemble(String what, List<BlockDevice> legs, boolean warn) throws Raid1Exception {
        if (legs.isEmpty()) throw new Raid1Exception(Raid1Exception.Code.ASSEMBLY, what + ": no legs given");
        List<KickedLeg> kicked = new ArrayList<>();
        Map<BlockDevice, Superblock> read = new LinkedHashMap<>();
        for (BlockDevice leg : legs) {
            try {
                read.put(leg, SuperblockCodec.read(leg));
            } catch (IOException e) {
                kick(kicked, leg, "no valid md superblock: " + e.getMessage(), warn);
            }
        }
        Superblock freshest = null;
        for (Superblock sb : read.values()) {
            if (freshest == null || Long.compareUnsigned(sb.events(), freshest.events()) > 0) freshest = sb;
        }
        if (freshest == null) {
            closeAll(legs);
            throw new Raid1Exception(Raid1Exception.Code.ASSEMBLY, what + ": no leg has a valid superblock: " + kicked);
        }
        if (freshest.level() != Superblock.LEVEL_RAID1) {
            closeAll(legs);
            throw new Raid1Exception(
                    Raid1Exception.Code.ASSEMBLY, what + ": level " + freshest.level() + " is not raid1");
        }
        UUID uuid = freshest.setUuid();
        Map<Integer, BlockDevice> byDev = new HashMap<>();
        Map<Integer, Superblock> superblocks = new HashMap<>();
        List<Mirror> members = new ArrayList<>();
        Map<Integer, Mirror> byRole = new HashMap<>();
        for (Map.Entry<BlockDevice, Superblock> e : read.entrySet()) {
            BlockDevice leg = e.getKey();
            Superblock sb = e.getValue();
            if (!sb.setUuid().equals(uuid)) {
                kick(kicked, leg, "set_uuid " + sb.setUuid() + " belongs to another array than " + uuid, warn);
                continue;
            }
            if (sb.size() < freshest.size() || sb.dataSize() < freshest.size()) {
                kick(
                        kicked,
                        leg,
                        "data_size " + sb.dataSize() + " is smaller than the array size " + freshest.size(),
                        warn);
                continue;
            }
            int dev = sb.devNumber();
            if (byDev.containsKey(dev)) {
                BlockDevice other = byDev.get(dev);
                kick(kicked, leg, "dev_number " + dev + " is also claimed by " + other.name(), warn);
                continue;
            }
            int role = freshest.devRole(dev);
            long lag = freshest.events() - sb.events();
            Mirror m;
            boolean writeMostly = (sb.devflags() & Superblock.DEVFLAG_WRITE_MOSTLY) != 0;
            Leg l = Leg.of(leg, sb);
            if (role < Superblock.ROLE_MAX) {
                if (lag > 1) {
                    kick(
                            kicked,
                            leg,
                            "non-fresh: events " + sb.events() + " < " + freshest.events()
                                    + " of the freshest leg (role " + role + "); re-add it",
                            warn);
                    continue;
                }
                if (role >= freshest.raidDisks()) {
                    kick(
                            kicked,
                            leg,
                            "dev_roles[" + dev + "] = " + role + " is beyond raid_disks " + freshest.raidDisks(),
                            warn);
                    continue;
                }
                if (byRole.containsKey(role)) {
                    kick(
                            kicked,
                            leg,
                            "role " + role + " is already held by "
                                    + byRole.get(role).name(),
                            warn);
                    continue;
                }
                if (sb.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET)) {
                    m = new Mirror(
                            l, role, MirrorState.REBUILDING, writeMostly, sb.recoveryOffset(), sb.recoveryOffset());
                } else {
                    m = new Mirror(l, role, MirrorState.IN_SYNC, writeMostly, Long.MAX_VALUE, Long.MAX_VALUE);
                }
                byRole.put(role, m);
            } else if (role == Superblock.ROLE_SPARE) {
                if (sb.role() < Superblock.ROLE_MAX && lag > 0) {
                    kick(
                            kicked,
                            leg,
                            "non-fresh: events " + sb.events() + " < " + freshest.events() + "; it held role "
                                    + sb.role() + " and the array no longer lists it; re-add it",
                            warn);
                    continue;
                }
                m = new Mirror(l, Mirror.NO_ROLE, MirrorState.SPARE, writeMostly, 0, 0);
            } else if (role == Superblock.ROLE_FAULTY) {
                kick(
                        kicked,
                        leg,
                        "dev_roles[" + dev + "] is faulty in the freshest superblock (events " + freshest.events()
                                + ")",
                        warn);
                continue;
            } else {
                kick(
                        kicked,
                        leg,
                        "dev_roles[" + dev + "] = 0x" + Integer.toHexString(role) + " (journal) is not supported",
                        warn);
                continue;
            }
            byDev.put(dev, leg);
            superblocks.put(dev, sb);
            members.add(m);
        }
        for (BlockDevice leg : legs) {
            if (!byDev.containsValue(leg)) closeQuietly(leg);
        }
        if (members.stream().noneMatch(m -> m.state() == MirrorState.IN_SYNC)) {
            closeAll(legs);
            throw new Raid1Exception(
                    Raid1Exception.Code.ASSEMBLY,
                    what + ": no in-sync leg among " + legs.size() + " legs; kicked: " + kicked);
        }
        return new Assembly(freshest, members, superblocks, kicked);
    }

    private static void kick(List<KickedLeg> kicked, BlockDevice leg, String reason, boolean warn) {
        if (warn) log.warn("{}: kicked from the array: {}", leg.name(), reason);
        kicked.add(new KickedLeg(leg.name(), reason));
    }

    static void closeAll(List<BlockDevice> legs) {
        for (BlockDevice d : legs) closeQuietly(d);
    }

    static void closeQuietly(BlockDevice d) {
        try {
            d.close();
        } catch (IOException | RuntimeException e) {
            log.warn("{}: close failed", d.name(), e);
        }
    }
}
