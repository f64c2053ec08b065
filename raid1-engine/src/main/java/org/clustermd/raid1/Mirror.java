package org.clustermd.raid1;

import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clustermd.raid1.io.DiskStats;

/**
 * One leg as one {@link MirrorSet} version sees it (md's {@code raid1_info} plus the rdev flags):
 * its role, {@link MirrorState}, write-mostly flag and recovery progress. Immutable: a change
 * is a new Mirror in a new MirrorSet. The device and its counters are shared by every version.
 *
 * <p>Immutable and thread-safe (the counters read through it are atomics).
 */
public final class Mirror {
    /** Role of a mirror that holds none (a spare, or a faulty leg removed from its role). */
    public static final int NO_ROLE = -1;

    private final Leg leg;
    private final int role;
    private final MirrorState state;
    private final boolean writeMostly;
    private final long recoveryOffset;
    private final long fullSyncFrom;
    private final int savedRole;

    Mirror(Leg leg, int role, MirrorState state, boolean writeMostly, long recoveryOffset, long fullSyncFrom) {
        this(leg, role, state, writeMostly, recoveryOffset, fullSyncFrom, NO_ROLE);
    }

    private Mirror(
            Leg leg,
            int role,
            MirrorState state,
            boolean writeMostly,
            long recoveryOffset,
            long fullSyncFrom,
            int savedRole) {
        if (state.takesWrites() && role < 0) throw new IllegalArgumentException(state + " needs a role: " + leg);
        this.leg = leg;
        this.role = role;
        this.state = state;
        this.writeMostly = writeMostly;
        this.recoveryOffset = recoveryOffset;
        this.fullSyncFrom = fullSyncFrom;
        this.savedRole = savedRole;
    }

    /** A spare that may take back {@code savedRole} recovering only from {@code fullFrom} on (md's saved_raid_disk). */
    static Mirror readded(Leg leg, boolean writeMostly, int savedRole, long fullFrom) {
        return new Mirror(leg, NO_ROLE, MirrorState.SPARE, writeMostly, 0, fullFrom, savedRole);
    }

    Leg leg() {
        return leg;
    }

    /** The device name (its path). */
    public String name() {
        return leg.name();
    }

    /** desc_nr: the index of this device in the superblock's dev_roles. */
    public int devNumber() {
        return leg.devNumber;
    }

    /** device_uuid of its superblock. */
    public UUID deviceUuid() {
        return leg.deviceUuid;
    }

    /** The raid slot (0 .. raid_disks-1) or {@link #NO_ROLE}. */
    public int role() {
        return role;
    }

    public MirrorState state() {
        return state;
    }

    /** WriteMostly1: balanced reads avoid it. */
    public boolean writeMostly() {
        return writeMostly;
    }

    /**
     * Sectors from the start of the data known to hold the array's data: {@code Long.MAX_VALUE}
     * when IN_SYNC, the recovery progress when REBUILDING, 0 otherwise.
     */
    public long recoveryOffset() {
        return recoveryOffset;
    }

    /**
     * For a REBUILDING leg: sectors at or past this are copied whatever the bitmap says (0 for a
     * new spare: full recovery; the array size for a bitmap-based re-add).
     */
    public long fullSyncFrom() {
        return fullSyncFrom;
    }

    /**
     * For a re-added SPARE: the role it held (md's saved_raid_disk), which lets the bitmap decide
     * what to recover; {@link #NO_ROLE} for a new spare (full recovery).
     */
    public int savedRole() {
        return savedRole;
    }

    /** md's rdev "errors": read errors corrected by rewriting. */
    public long correctedReads() {
        return leg.correctedReads.get();
    }

    /** I/O errors seen on this leg since the array was assembled. */
    public long errors() {
        return leg.errors.get();
    }

    /** This leg's /proc/diskstats counters. */
    public DiskStats stats() {
        return leg.device.stats();
    }

    /** The state as md's sysfs {@code dev-X/state} prints it: a comma list (faulty, in_sync, write_mostly, spare). */
    public String mdState() {
        List<String> words = new ArrayList<>();
        if (state == MirrorState.FAULTY) words.add("faulty");
        if (state == MirrorState.IN_SYNC) words.add("in_sync");
        if (writeMostly) words.add("write_mostly");
        if (state == MirrorState.SPARE || state == MirrorState.REBUILDING) words.add("spare");
        return String.join(",", words);
    }

    /** True when reads of {@code [sector, sector + sectors)} may be served by this leg. */
    boolean canRead(long sector, long sectors) {
        return state == MirrorState.IN_SYNC || (state == MirrorState.REBUILDING && sector + sectors <= recoveryOffset);
    }

    Mirror withState(MirrorState s, int newRole) {
        return new Mirror(
                leg, newRole, s, writeMostly, s == MirrorState.IN_SYNC ? Long.MAX_VALUE : 0, fullSyncFrom, NO_ROLE);
    }

    Mirror rebuilding(int newRole, long from, long fullFrom) {
        return new Mirror(leg, newRole, MirrorState.REBUILDING, writeMostly, from, fullFrom, NO_ROLE);
    }

    Mirror withRecoveryOffset(long sector) {
        return new Mirror(leg, role, state, writeMostly, sector, fullSyncFrom, savedRole);
    }

    Mirror withWriteMostly(boolean on) {
        return new Mirror(leg, role, state, on, recoveryOffset, fullSyncFrom, savedRole);
    }

    @Override
    public String toString() {
        return name() + "[" + devNumber() + "] role " + (role < 0 ? "-" : role) + " " + state
                + (state == MirrorState.REBUILDING ? " @" + recoveryOffset : "") + (writeMostly ? " write-mostly" : "");
    }
}
