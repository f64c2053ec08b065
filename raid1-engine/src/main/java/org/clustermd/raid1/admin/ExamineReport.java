package org.clustermd.raid1.admin;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
 * <p>The text adds what mdadm prints beside the fields: sizes in human units as mdadm's
 * human_size writes them, the checksum ("correct" or "expected X"), the unused space before and
 * after the data (getinfo_super1's space_before and space_after), the bitmap's uuid and each
 * slot's state. Whatever is wrong is also in {@link #problems()}.
 *
 * @param device the leg's name (path)
 * @param superblock its v1.2 superblock (possibly with a wrong sb_csum, see {@link #checksumCorrect()})
 * @param bitmap its bitmap area, when the superblock has one and slot 0 could be read
 * @param storedChecksum sb_csum as stored
 * @param computedChecksum sb_csum as computed from the block
 * @param deviceSectors the leg's size in sectors
 * @param problems what md would refuse or ignore, one sentence each (empty when all is well)
 */
public record ExamineReport(
        String device,
        Superblock superblock,
        Optional<BitmapReport> bitmap,
        int storedChecksum,
        int computedChecksum,
        long deviceSectors,
        List<String> problems) {
    public ExamineReport {
        problems = List.copyOf(problems);
    }

    public boolean checksumCorrect() {
        return storedChecksum == computedChecksum;
    }

    /** mdadm's "Unused Space" {before, after} in sectors (getinfo_super1, for a superblock before the data). */
    public long[] unusedSpace() {
        Superblock s = superblock;
        long earliest = s.superOffset() + (32 + 4) * 2;
        if (s.hasFeature(Superblock.FEATURE_BITMAP_OFFSET) && s.bitmapOffset() > 0 && bitmap.isPresent()) {
            BitmapReport b = bitmap.get();
            // mdadm's calc_bitmap_size: one slot's bits and header, in 4 KiB pages; it adds the bitmap's
            // offset without the superblock's, and so does this, to print what mdadm prints
            long chunkSectors = Math.max(1, b.chunksize() / 512);
            long bits = (b.syncSize() + chunkSectors - 1) / chunkSectors;
            long bytes = ((bits + 7) / 8 + 256 + 4095) / 4096 * 4096;
            earliest = Math.max(earliest, s.bitmapOffset() + bytes / 512);
        }
        if (s.bblogOffset() != 0 && s.bblogSize() != 0) {
            earliest = Math.max(earliest, s.superOffset() + s.bblogOffset() + s.bblogSize());
        }
        long before = Math.max(0, s.dataOffset() - earliest);
        long after = deviceSectors - s.size() - s.dataOffset();
        return new long[] {before, after};
    }

    /**
     * mdadm's human_size: nothing below 5000 KiB, then " (x.yy MiB x.yy MB)", from 2 GiB on
     * " (x.yy GiB x.yy GB)".
     */
    static String human(long bytes) {
        if (bytes < 5000L * 1024) return "";
        if (bytes < 2L << 30) {
            long cMiB = (bytes * 200 / (1L << 20) + 1) / 2;
            long cMB = (bytes / (1_000_000L / 200) + 1) / 2;
            return String.format(" (%d.%02d MiB %d.%02d MB)", cMiB / 100, cMiB % 100, cMB / 100, cMB % 100);
        }
        long cGiB = (bytes / (1L << 30) * 200 + bytes % (1L << 30) * 200 / (1L << 30) + 1) / 2;
        long cGB = (bytes / (1_000_000_000L / 200) + 1) / 2;
        return String.format(" (%d.%02d GiB %d.%02d GB)", cGiB / 100, cGiB % 100, cGB / 100, cGB % 100);
    }

    /** mdadm -X's chunk size: "64 MB", "512 KB", "512 B" (binary units, as mdadm prints them). */
    static String humanChunk(long bytes) {
        if (bytes >= 1L << 20 && bytes % (1L << 20) == 0) return (bytes >> 20) + " MB";
        if (bytes >= 1L << 10 && bytes % (1L << 10) == 0) return (bytes >> 10) + " KB";
        return bytes + " B";
    }

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

    /**
     * The report as md's fields, in md's order (see the class comment for the keys): ordered maps,
     * lists, strings, numbers and nulls, for a JSON writer (the command line's {@code --json}).
     */
    public Map<String, Object> fields() {
        Superblock s = superblock;
        Fields j = new Fields()
                .with("device", device)
                .with("magic", Integer.toHexString(Superblock.MD_SB_MAGIC))
                .with("major_version", Superblock.MAJOR_VERSION)
                .with("feature_map", "0x" + Integer.toHexString(s.featureMap()))
                .with("set_uuid", SuperblockCodec.mdadmUuid(s.setUuid()))
                .with("set_name", s.setName())
                .with("ctime", Superblock.instantOf(s.ctime()).toString())
                .with("level", s.level())
                .with("layout", s.layout())
                .with("size", s.size())
                .with("chunksize", s.chunksize())
                .with("raid_disks", s.raidDisks())
                .with("bitmap_offset", s.hasFeature(Superblock.FEATURE_BITMAP_OFFSET) ? s.bitmapOffset() : null)
                .with("data_offset", s.dataOffset())
                .with("data_size", s.dataSize())
                .with("super_offset", s.superOffset())
                .with("recovery_offset", s.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET) ? s.recoveryOffset() : null)
                .with("dev_number", s.devNumber())
                .with("cnt_corrected_read", s.cntCorrectedRead())
                .with("device_uuid", SuperblockCodec.mdadmUuid(s.deviceUuid()))
                .with("devflags", s.devflags())
                .with("utime", Superblock.instantOf(s.utime()).toString())
                .with("events", s.events())
                .with("resync_offset", s.resyncOffset() == Superblock.MAX_SECTOR ? null : s.resyncOffset())
                .with("sb_csum", String.format("%x", storedChecksum))
                .with("sb_csum_expected", checksumCorrect() ? null : String.format("%x", computedChecksum))
                .with("unused_space_before", unusedSpace()[0])
                .with("unused_space_after", unusedSpace()[1])
                .with("max_dev", s.maxDev())
                .with("dev_roles", roles())
                .with("device_role", deviceRole())
                .with("array_state", arrayState());
        if (bitmap.isPresent()) {
            BitmapReport b = bitmap.get();
            List<Object> slots = new ArrayList<>();
            for (SlotReport r : b.slots()) {
                slots.add(new Fields()
                        .with("slot", r.slot())
                        .with("uuid", r.uuid() == null ? null : SuperblockCodec.mdadmUuid(r.uuid()))
                        .with("events", r.events())
                        .with("events_cleared", r.eventsCleared())
                        .with("state", r.state())
                        .with("state_text", r.stateText())
                        .with("chunks", r.chunks())
                        .with("dirty", r.dirty())
                        .with("problem", r.problem()));
            }
            j.with(
                    "bitmap",
                    new Fields()
                            .with("version", b.version())
                            .with("uuid", SuperblockCodec.mdadmUuid(b.uuid()))
                            .with("nodes", b.nodes())
                            .with("cluster_name", b.clusterName())
                            .with("chunksize", b.chunksize())
                            .with("sync_size", b.syncSize())
                            .with("daemon_sleep", b.daemonSleep())
                            .with("write_behind", b.writeBehind())
                            .with("sectors_reserved", b.sectorsReserved())
                            .with("problem", b.problem())
                            .with("slots", slots));
        } else {
            j.with("bitmap", null);
        }
        j.with("problems", new ArrayList<Object>(problems));
        return j;
    }

    /** An ordered map filled by chained puts, so that each object's keys read in md's order. */
    private static final class Fields extends LinkedHashMap<String, Object> {
        private static final long serialVersionUID = 1L;

        Fields with(String key, Object value) {
            super.put(key, value);
            return this;
        }
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
        line(t, "Avail Dev Size", s.dataSize() + " sectors" + human(s.dataSize() * 512));
        line(t, "Array Size", s.size() / 2 + " KiB" + human(s.size() * 512));
        if (s.size() != s.dataSize()) line(t, "Used Dev Size", s.size() + " sectors" + human(s.size() * 512));
        line(t, "Data Offset", s.dataOffset() + " sectors");
        line(t, "Super Offset", s.superOffset() + " sectors");
        if (s.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET))
            line(t, "Recovery Offset", s.recoveryOffset() + " sectors");
        long[] unused = unusedSpace();
        if (unused[0] != 0 || unused[1] != 0) {
            line(
                    t,
                    "Unused Space",
                    "before=" + unused[0] + " sectors, after="
                            + (unused[1] < 0 ? unused[1] + " sectors DEVICE TOO SMALL" : unused[1] + " sectors"));
        }
        if (s.resyncOffset() != Superblock.MAX_SECTOR) line(t, "Resync Offset", s.resyncOffset() + " sectors");
        line(t, "State", s.resyncOffset() == Superblock.MAX_SECTOR ? "clean" : "active");
        line(t, "Device UUID", SuperblockCodec.mdadmUuid(s.deviceUuid()));
        if (s.hasFeature(Superblock.FEATURE_BITMAP_OFFSET))
            line(t, "Internal Bitmap", s.bitmapOffset() + " sectors from superblock");
        line(t, "Update Time", Superblock.instantOf(s.utime()).toString());
        line(
                t,
                "Checksum",
                String.format("%x - ", storedChecksum)
                        + (checksumCorrect() ? "correct" : String.format("expected %x", computedChecksum)));
        line(t, "Events", String.valueOf(s.events()));
        line(t, "Device Role", deviceRole());
        line(t, "Array State", arrayState());
        if (s.hasFeature(Superblock.FEATURE_BITMAP_OFFSET) && bitmap.isEmpty()) {
            t.append("Bitmap:\n");
            line(t, "State", "invalid: unreadable (see the problems below)");
        }
        bitmap.ifPresent(b -> {
            t.append("Bitmap:\n");
            line(t, "Version", String.valueOf(b.version()));
            line(t, "UUID", SuperblockCodec.mdadmUuid(b.uuid()));
            if (b.problem() != null) line(t, "State", "invalid: " + b.problem());
            line(t, "Chunksize", b.chunksize() + " bytes (" + humanChunk(b.chunksize()) + ")");
            line(t, "Daemon", b.daemonSleep() + "s flush period");
            line(t, "Write Mode", b.writeBehind() == 0 ? "Normal" : "Allow write behind, max " + b.writeBehind());
            line(t, "Sync Size", b.syncSize() / 2 + " KiB" + human(b.syncSize() * 512));
            if (b.nodes() > 0) line(t, "Nodes", String.valueOf(b.nodes()));
            for (SlotReport r : b.slots()) {
                if (b.nodes() > 0) line(t, "Node Slot", String.valueOf(r.slot()));
                if (r.uuid() != null && !r.uuid().equals(b.uuid()))
                    line(t, "UUID", SuperblockCodec.mdadmUuid(r.uuid()));
                line(t, "Events", String.valueOf(r.events()));
                line(t, "Events Cleared", String.valueOf(r.eventsCleared()));
                line(t, "State", r.stateText());
                line(
                        t,
                        "Bitmap",
                        r.chunks() + " bits (chunks), " + r.dirty() + " dirty ("
                                + String.format("%.1f", r.chunks() == 0 ? 0.0 : 100.0 * r.dirty() / r.chunks()) + "%)");
            }
        });
        if (!problems.isEmpty()) {
            t.append("Problems:\n");
            for (String p : problems) t.append("  ").append(p).append('\n');
        }
        return t.toString();
    }

    private static void line(StringBuilder t, String key, String value) {
        t.append(String.format("%16s : %s%n", key, value));
    }
}
