package org.clustermd.raid1.admin;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;

/**
 * {@code clustermd examine LEG}: a leg's md superblock and bitmap summary (mdadm {@code -E}
 * plus {@code -X}), with md's field names, printable as text or JSON.
 *
 * <p>JSON keys are md_p.h's and bitmap_super_t's field names. Sector values are numbers;
 * {@code resync_offset} is null when it is MaxSector (clean), {@code recovery_offset} null
 * without MD_FEATURE_RECOVERY_OFFSET; UUIDs are printed as mdadm prints them; each
 * {@code dev_roles} entry is its slot number or "spare", "faulty", "journal", listed up to the
 * last entry that is not spare (at least raid_disks entries).
 *
 * <p>Immutable; thread-safe.
 *
 * @param device the leg's name (path)
 * @param superblock its v1.2 superblock
 * @param bitmap its bitmap area, when the superblock has one
 */
public record ExamineReport(String device, Superblock superblock, Optional<BitmapReport> bitmap) {

    /** mdadm's "Array State": one letter per role, 'A' when some device holds it, '.' when none. */
    public String arrayState() {
        StringBuilder s = new StringBuilder();
        for (int role = 0; role < superblock.raidDisks(); role++) {
            boolean held = false;
            for (int r : superblock.devRoles()) held |= r == role;
            s.append(held ? 'A' : '.');
        }
        return s.toString();
    }

    /** mdadm's "Device Role" of this leg. */
    public String deviceRole() {
        return roleName(superblock.role(), true);
    }

    private static String roleName(int r, boolean long_) {
        if (r == Superblock.ROLE_SPARE) return "spare";
        if (r == Superblock.ROLE_FAULTY) return "faulty";
        if (r == Superblock.ROLE_JOURNAL) return "journal";
        return long_ ? "Active device " + r : String.valueOf(r);
    }

    /** The entries of dev_roles worth printing. */
    private List<Object> roles() {
        int[] roles = superblock.devRoles();
        int n = superblock.raidDisks();
        for (int i = 0; i < roles.length; i++) if (roles[i] != Superblock.ROLE_SPARE) n = Math.max(n, i + 1);
        n = Math.min(n, roles.length);
        List<Object> out = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int r = roles[i];
            out.add(r < Superblock.ROLE_MAX ? (Object) r : roleName(r, false));
        }
        return out;
    }

    /** The report as one JSON object (see the class comment for the keys). */
    public String toJson() {
        Superblock s = superblock;
        Json j = new Json()
                .put("device", device)
                .put("magic", Integer.toHexString(Superblock.MD_SB_MAGIC))
                .put("major_version", Superblock.MAJOR_VERSION)
                .put("feature_map", "0x" + Integer.toHexString(s.featureMap()))
                .put("set_uuid", SuperblockCodec.mdadmUuid(s.setUuid()))
                .put("set_name", s.setName())
                .put("ctime", Superblock.instantOf(s.ctime()).toString())
                .put("level", s.level())
                .put("layout", s.layout())
                .put("size", s.size())
                .put("chunksize", s.chunksize())
                .put("raid_disks", s.raidDisks())
                .put("bitmap_offset", s.hasFeature(Superblock.FEATURE_BITMAP_OFFSET) ? s.bitmapOffset() : null)
                .put("data_offset", s.dataOffset())
                .put("data_size", s.dataSize())
                .put("super_offset", s.superOffset())
                .put("recovery_offset", s.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET) ? s.recoveryOffset() : null)
                .put("dev_number", s.devNumber())
                .put("cnt_corrected_read", s.cntCorrectedRead())
                .put("device_uuid", SuperblockCodec.mdadmUuid(s.deviceUuid()))
                .put("devflags", s.devflags())
                .put("utime", Superblock.instantOf(s.utime()).toString())
                .put("events", s.events())
                .put("resync_offset", s.resyncOffset() == Superblock.MAX_SECTOR ? null : s.resyncOffset())
                .put("max_dev", s.maxDev())
                .put("dev_roles", roles())
                .put("device_role", deviceRole())
                .put("array_state", arrayState());
        if (bitmap.isPresent()) {
            BitmapReport b = bitmap.get();
            List<Object> slots = new ArrayList<>();
            for (SlotReport r : b.slots()) {
                slots.add(new Json().put("slot", r.slot()).put("events", r.events()).put("events_cleared", r.eventsCleared())
                        .put("state", r.state()).put("chunks", r.chunks()).put("dirty", r.dirty()));
            }
            j.put("bitmap", new Json()
                    .put("version", b.version())
                    .put("uuid", SuperblockCodec.mdadmUuid(b.uuid()))
                    .put("nodes", b.nodes())
                    .put("cluster_name", b.clusterName())
                    .put("chunksize", b.chunksize())
                    .put("sync_size", b.syncSize())
                    .put("daemon_sleep", b.daemonSleep())
                    .put("write_behind", b.writeBehind())
                    .put("sectors_reserved", b.sectorsReserved())
                    .put("slots", slots));
        } else {
            j.put("bitmap", null);
        }
        return j.toString();
    }

    /** The report as mdadm-style "Key : value" text. */
    public String toText() {
        Superblock s = superblock;
        StringBuilder t = new StringBuilder();
        t.append(device).append(":\n");
        line(t, "Magic", Integer.toHexString(Superblock.MD_SB_MAGIC));
        line(t, "Version", "1.2");
        line(t, "Feature Map", "0x" + Integer.toHexString(s.featureMap()));
        line(t, "Array UUID", SuperblockCodec.mdadmUuid(s.setUuid()));
        line(t, "Name", s.setName());
        bitmap.filter(b -> b.nodes() > 0).ifPresent(b -> line(t, "Cluster Name", b.clusterName()));
        line(t, "Creation Time", Superblock.instantOf(s.ctime()).toString());
        line(t, "Raid Level", "raid" + s.level());
        line(t, "Raid Devices", String.valueOf(s.raidDisks()));
        line(t, "Avail Dev Size", s.dataSize() + " sectors");
        line(t, "Array Size", s.size() / 2 + " KiB");
        line(t, "Data Offset", s.dataOffset() + " sectors");
        line(t, "Super Offset", s.superOffset() + " sectors");
        if (s.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET)) line(t, "Recovery Offset", s.recoveryOffset() + " sectors");
        if (s.resyncOffset() != Superblock.MAX_SECTOR) line(t, "Resync Offset", s.resyncOffset() + " sectors");
        line(t, "State", s.resyncOffset() == Superblock.MAX_SECTOR ? "clean" : "active");
        line(t, "Device UUID", SuperblockCodec.mdadmUuid(s.deviceUuid()));
        if (s.hasFeature(Superblock.FEATURE_BITMAP_OFFSET)) line(t, "Internal Bitmap", s.bitmapOffset() + " sectors from superblock");
        line(t, "Update Time", Superblock.instantOf(s.utime()).toString());
        line(t, "Events", String.valueOf(s.events()));
        line(t, "Device Role", deviceRole());
        line(t, "Array State", arrayState());
        bitmap.ifPresent(b -> {
            t.append("Bitmap:\n");
            line(t, "Version", String.valueOf(b.version()));
            line(t, "Chunksize", b.chunksize() + " bytes");
            line(t, "Daemon", b.daemonSleep() + "s flush period");
            line(t, "Sync Size", b.syncSize() / 2 + " KiB");
            if (b.nodes() > 0) line(t, "Nodes", String.valueOf(b.nodes()));
            for (SlotReport r : b.slots()) {
                if (b.nodes() > 0) line(t, "Node Slot", String.valueOf(r.slot()));
                line(t, "Events", String.valueOf(r.events()));
                line(t, "Events Cleared", String.valueOf(r.eventsCleared()));
                line(t, "Bitmap", r.chunks() + " bits (chunks), " + r.dirty() + " dirty ("
                        + String.format("%.1f", r.chunks() == 0 ? 0.0 : 100.0 * r.dirty() / r.chunks()) + "%)");
            }
        });
        return t.toString();
    }

    private static void line(StringBuilder t, String key, String value) {
        t.append(String.format("%16s : %s%n", key, value));
    }
}
