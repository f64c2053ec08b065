package org.clustermd.raid1.sb;

import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.UUID;

/**
 * One leg's md v1.2 superblock, {@code struct mdp_superblock_1} of
 * include/uapi/linux/raid/md_p.h, as a value: every field of the on-disk structure except the
 * checksum (computed by {@link SuperblockCodec} when encoding, verified when decoding) and the
 * padding (always zero). Accessors carry md's field names in camelCase; sectors are 512 bytes.
 * {@code max_dev} is the length of {@link #devRoles()}.
 *
 * <p>Build one with {@link #builder()} or change one with {@link #toBuilder()}.
 *
 * <p>Immutable and therefore thread-safe.
 */
public final class Superblock {
    /** MD_SB_MAGIC. */
    public static final int MD_SB_MAGIC = 0xa92b4efc;
    /** major_version of every v1.x superblock. */
    public static final int MAJOR_VERSION = 1;
    /** super_offset of a v1.2 superblock: 4 KiB from the start of the device. */
    public static final long V1_2_SUPER_OFFSET = 8;
    /** Size of the fixed part; dev_roles follows. */
    public static final int FIXED_SIZE = 256;
    /** Most dev_roles entries that fit in the 4 KiB superblock block ((4096 - 256) / 2). */
    public static final int MAX_MAX_DEV = (4096 - FIXED_SIZE) / 2;
    /** mdadm's default max_dev: a 1 KiB superblock. */
    public static final int DEFAULT_MAX_DEV = 384;

    public static final int FEATURE_BITMAP_OFFSET = 1;
    public static final int FEATURE_RECOVERY_OFFSET = 2;
    public static final int FEATURE_RESHAPE_ACTIVE = 4;
    public static final int FEATURE_BAD_BLOCKS = 8;
    public static final int FEATURE_REPLACEMENT = 16;
    public static final int FEATURE_RESHAPE_BACKWARDS = 32;
    public static final int FEATURE_NEW_OFFSET = 64;
    public static final int FEATURE_RECOVERY_BITMAP = 128;
    /** MD_FEATURE_CLUSTERED (mdadm calls the same bit MD_FEATURE_BITMAP_VERSIONED). */
    public static final int FEATURE_CLUSTERED = 256;
    public static final int FEATURE_JOURNAL = 512;
    public static final int FEATURE_PPL = 1024;
    public static final int FEATURE_MULTIPLE_PPLS = 2048;
    public static final int FEATURE_RAID0_LAYOUT = 4096;
    /** MD_FEATURE_ALL: every bit the kernel knows; others are rejected on read. */
    public static final int FEATURE_ALL = 0x1fff;

    /** MD_DISK_ROLE_SPARE. */
    public static final int ROLE_SPARE = 0xffff;
    /** MD_DISK_ROLE_FAULTY. */
    public static final int ROLE_FAULTY = 0xfffe;
    /** MD_DISK_ROLE_JOURNAL. */
    public static final int ROLE_JOURNAL = 0xfffd;
    /** MD_DISK_ROLE_MAX: roles up to this are active slots. */
    public static final int ROLE_MAX = 0xff00;

    /** WriteMostly1. */
    public static final int DEVFLAG_WRITE_MOSTLY = 1;
    /** FailFast1. */
    public static final int DEVFLAG_FAIL_FAST = 2;

    /**
     * MaxSector as resync_offset holds it (all ones on disk): a clean array. The engine's
     * in-memory recovery_cp says {@code Mddev.MAX_SECTOR} instead; ArrayMetadata converts.
     */
    public static final long MAX_SECTOR = -1L;
    /** md level of raid1. */
    public static final int LEVEL_RAID1 = 1;
    private final int featureMap;
    private final UUID setUuid;
    private final String setName;
    private final long ctime;
    private final int level;
    private final int layout;
    private final long size;
    private final int chunksize;
    private final int raidDisks;
    private final int bitmapOffset;
    private final int newLevel;
    private final long reshapePosition;
    private final int deltaDisks;
    private final int newLayout;
    private final int newChunk;
    private final int newOffset;
    private final long dataOffset;
    private final long dataSize;
    private final long superOffset;
    private final long recoveryOffset;
    private final int devNumber;
    private final int cntCorrectedRead;
    private final UUID deviceUuid;
    private final int devflags;
    private final int bblogShift;
    private final int bblogSize;
    private final int bblogOffset;
    private final long utime;
    private final long events;
    private final long resyncOffset;
    private final int[] devRoles;

    private Superblock(Builder b) {
        this.featureMap = b.featureMap;
        this.setUuid = Objects.requireNonNull(b.setUuid, "set_uuid");
        this.setName = Objects.requireNonNull(b.setName, "set_name");
        this.ctime = b.ctime;
        this.level = b.level;
        this.layout = b.layout;
        this.size = b.size;
        this.chunksize = b.chunksize;
        this.raidDisks = b.raidDisks;
        this.bitmapOffset = b.bitmapOffset;
        this.newLevel = b.newLevel;
        this.reshapePosition = b.reshapePosition;
        this.deltaDisks = b.deltaDisks;
        this.newLayout = b.newLayout;
        this.newChunk = b.newChunk;
        this.newOffset = b.newOffset;
        this.dataOffset = b.dataOffset;
        this.dataSize = b.dataSize;
        this.superOffset = b.superOffset;
        this.recoveryOffset = b.recoveryOffset;
        this.devNumber = b.devNumber;
        this.cntCorrectedRead = b.cntCorrectedRead;
        this.deviceUuid = Objects.requireNonNull(b.deviceUuid, "device_uuid");
        this.devflags = b.devflags;
        this.bblogShift = b.bblogShift;
        this.bblogSize = b.bblogSize;
        this.bblogOffset = b.bblogOffset;
        this.utime = b.utime;
        this.events = b.events;
        this.resyncOffset = b.resyncOffset;
        this.devRoles = b.devRoles.clone();
        if (devRoles.length < 1 || devRoles.length > MAX_MAX_DEV) {
            throw new IllegalArgumentException("max_dev must be 1.." + MAX_MAX_DEV + ": " + devRoles.length);
        }
        if (SuperblockCodec.utf8Length(setName) > 32) {
            throw new IllegalArgumentException("set_name longer than 32 bytes: " + setName);
        }
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder(this);
    }

    /** feature_map: bit set of FEATURE_* flags. */
    public int featureMap() {
        return featureMap;
    }

    /** set_uuid: array UUID (16 bytes, in byte order: most significant long first). */
    public UUID setUuid() {
        return setUuid;
    }

    /** set_name: array name, at most 32 bytes of UTF-8, NUL-padded on disk. */
    public String setName() {
        return setName;
    }

    /** ctime: creation time, see {@link #mdTime}. */
    public long ctime() {
        return ctime;
    }

    /** level: RAID level (1 for raid1). */
    public int level() {
        return level;
    }

    /** layout: layout (0 for raid1). */
    public int layout() {
        return layout;
    }

    /** size: used size of each component, sectors (the array size for raid1). */
    public long size() {
        return size;
    }

    /** chunksize: chunk size in sectors (0 for raid1). */
    public int chunksize() {
        return chunksize;
    }

    /** raid_disks: number of active roles. */
    public int raidDisks() {
        return raidDisks;
    }

    /** bitmap_offset: signed sectors from the superblock to the bitmap, valid with FEATURE_BITMAP_OFFSET. */
    public int bitmapOffset() {
        return bitmapOffset;
    }

    /** new_level: reshape target level (valid with FEATURE_RESHAPE_ACTIVE). */
    public int newLevel() {
        return newLevel;
    }

    /** reshape_position: next array address for the reshape. */
    public long reshapePosition() {
        return reshapePosition;
    }

    /** delta_disks: change in raid_disks during reshape. */
    public int deltaDisks() {
        return deltaDisks;
    }

    /** new_layout: reshape target layout. */
    public int newLayout() {
        return newLayout;
    }

    /** new_chunk: reshape target chunk, sectors. */
    public int newChunk() {
        return newChunk;
    }

    /** new_offset: signed sectors to add to data_offset in the new layout. */
    public int newOffset() {
        return newOffset;
    }

    /** data_offset: sector where data starts on this device. */
    public long dataOffset() {
        return dataOffset;
    }

    /** data_size: sectors usable for data on this device. */
    public long dataSize() {
        return dataSize;
    }

    /** super_offset: sector of this superblock (8 for v1.2). */
    public long superOffset() {
        return superOffset;
    }

    /** recovery_offset: sectors from data_offset already recovered (valid with FEATURE_RECOVERY_OFFSET). */
    public long recoveryOffset() {
        return recoveryOffset;
    }

    /** dev_number: permanent index of this device into dev_roles. */
    public int devNumber() {
        return devNumber;
    }

    /** cnt_corrected_read: read errors corrected by rewriting. */
    public int cntCorrectedRead() {
        return cntCorrectedRead;
    }

    /** device_uuid: this device's UUID. */
    public UUID deviceUuid() {
        return deviceUuid;
    }

    /** devflags: per-device flags (DEVFLAG_WRITE_MOSTLY, DEVFLAG_FAIL_FAST), u8. */
    public int devflags() {
        return devflags;
    }

    /** bblog_shift: bad-block log: shift from sectors to block size, u8. */
    public int bblogShift() {
        return bblogShift;
    }

    /** bblog_size: bad-block log: sectors reserved, u16. */
    public int bblogSize() {
        return bblogSize;
    }

    /** bblog_offset: bad-block log: signed sectors from the superblock. */
    public int bblogOffset() {
        return bblogOffset;
    }

    /** utime: last update time, see {@link #mdTime}. */
    public long utime() {
        return utime;
    }

    /** events: event count, incremented on each superblock update. */
    public long events() {
        return events;
    }

    /** resync_offset: sectors from data_offset known in sync; {@link #MAX_SECTOR} when clean. */
    public long resyncOffset() {
        return resyncOffset;
    }

    /** max_dev: the number of dev_roles entries. */
    public int maxDev() {
        return devRoles.length;
    }

    /** dev_roles[max_dev]: role per device number (a slot, or ROLE_SPARE/FAULTY/JOURNAL). */
    public int[] devRoles() {
        return devRoles.clone();
    }

    /** dev_roles[devNumber], or ROLE_SPARE beyond max_dev (mdadm's role_from_sb). */
    public int devRole(int devNumber) {
        return devNumber >= 0 && devNumber < devRoles.length ? devRoles[devNumber] : ROLE_SPARE;
    }

    /** This device's own role: {@code devRole(devNumber())}. */
    public int role() {
        return devRole(devNumber);
    }

    /** True if every bit of {@code feature} is set in feature_map. */
    public boolean hasFeature(int feature) {
        return (featureMap & feature) == feature;
    }

    /** The superblock's bytes in use: 256 + 2 x max_dev (what the checksum covers). */
    public int byteSize() {
        return FIXED_SIZE + 2 * devRoles.length;
    }

    /** md's time encoding: low 40 bits seconds since the epoch, high 24 bits microseconds. */
    public static long mdTime(Instant t) {
        long micros = t.getNano() / 1000;
        return (t.getEpochSecond() & 0xFF_FFFF_FFFFL) | (micros << 40);
    }

    /** Decodes {@link #mdTime}. */
    public static Instant instantOf(long mdTime) {
        long secs = mdTime & 0xFF_FFFF_FFFFL;
        long micros = mdTime >>> 40;
        return Instant.ofEpochSecond(secs, micros * 1000);
    }

    @Override
    public boolean equals(Object o) {
        if (this == o) {
            return true;
        }
        if (!(o instanceof Superblock s)) {
            return false;
        }
        return featureMap == s.featureMap
                && setUuid.equals(s.setUuid)
                && setName.equals(s.setName)
                && ctime == s.ctime
                && level == s.level
                && layout == s.layout
                && size == s.size
                && chunksize == s.chunksize
                && raidDisks == s.raidDisks
                && bitmapOffset == s.bitmapOffset
                && newLevel == s.newLevel
                && reshapePosition == s.reshapePosition
                && deltaDisks == s.deltaDisks
                && newLayout == s.newLayout
                && newChunk == s.newChunk
                && newOffset == s.newOffset
                && dataOffset == s.dataOffset
                && dataSize == s.dataSize
                && superOffset == s.superOffset
                && recoveryOffset == s.recoveryOffset
                && devNumber == s.devNumber
                && cntCorrectedRead == s.cntCorrectedRead
                && deviceUuid.equals(s.deviceUuid)
                && devflags == s.devflags
                && bblogShift == s.bblogShift
                && bblogSize == s.bblogSize
                && bblogOffset == s.bblogOffset
                && utime == s.utime
                && events == s.events
                && resyncOffset == s.resyncOffset
                && Arrays.equals(devRoles, s.devRoles);
    }

    @Override
    public int hashCode() {
        return 31 * Objects.hash(featureMap, setUuid, setName, ctime, level, layout, size, chunksize, raidDisks, bitmapOffset, newLevel, reshapePosition, deltaDisks, newLayout, newChunk, newOffset, dataOffset, dataSize, superOffset, recoveryOffset, devNumber, cntCorrectedRead, deviceUuid, devflags, bblogShift, bblogSize, bblogOffset, utime, events, resyncOffset) + Arrays.hashCode(devRoles);
    }

    @Override
    public String toString() {
        return "Superblock[set_uuid=" + setUuid + ", set_name=" + setName + ", level=" + level + ", raid_disks="
                + raidDisks + ", dev_number=" + devNumber + ", role=" + role() + ", events=" + events + ", size=" + size
                + ", data_offset=" + dataOffset + ", feature_map=0x" + Integer.toHexString(featureMap) + "]";
    }

    /**
     * Mutable builder; defaults are those of a new v1.2 raid1 member: super_offset 8, max_dev
     * {@value #DEFAULT_MAX_DEV} with every role spare, resync_offset MaxSector (clean).
     *
     * <p>Not thread-safe.
     */
    public static final class Builder {
        private int featureMap;
        private UUID setUuid = new UUID(0, 0);
        private String setName = "";
        private long ctime;
        private int level = LEVEL_RAID1;
        private int layout;
        private long size;
        private int chunksize;
        private int raidDisks;
        private int bitmapOffset;
        private int newLevel;
        private long reshapePosition;
        private int deltaDisks;
        private int newLayout;
        private int newChunk;
        private int newOffset;
        private long dataOffset;
        private long dataSize;
        private long superOffset = V1_2_SUPER_OFFSET;
        private long recoveryOffset;
        private int devNumber;
        private int cntCorrectedRead;
        private UUID deviceUuid = new UUID(0, 0);
        private int devflags;
        private int bblogShift;
        private int bblogSize;
        private int bblogOffset;
        private long utime;
        private long events;
        private long resyncOffset = MAX_SECTOR;
        private int[] devRoles = spareRoles(DEFAULT_MAX_DEV);

        private Builder() {}

        private Builder(Superblock s) {
            this.featureMap = s.featureMap;
            this.setUuid = s.setUuid;
            this.setName = s.setName;
            this.ctime = s.ctime;
            this.level = s.level;
            this.layout = s.layout;
            this.size = s.size;
            this.chunksize = s.chunksize;
            this.raidDisks = s.raidDisks;
            this.bitmapOffset = s.bitmapOffset;
            this.newLevel = s.newLevel;
            this.reshapePosition = s.reshapePosition;
            this.deltaDisks = s.deltaDisks;
            this.newLayout = s.newLayout;
            this.newChunk = s.newChunk;
            this.newOffset = s.newOffset;
            this.dataOffset = s.dataOffset;
            this.dataSize = s.dataSize;
            this.superOffset = s.superOffset;
            this.recoveryOffset = s.recoveryOffset;
            this.devNumber = s.devNumber;
            this.cntCorrectedRead = s.cntCorrectedRead;
            this.deviceUuid = s.deviceUuid;
            this.devflags = s.devflags;
            this.bblogShift = s.bblogShift;
            this.bblogSize = s.bblogSize;
            this.bblogOffset = s.bblogOffset;
            this.utime = s.utime;
            this.events = s.events;
            this.resyncOffset = s.resyncOffset;
            this.devRoles = s.devRoles.clone();
        }

        private static int[] spareRoles(int n) {
            int[] r = new int[n];
            Arrays.fill(r, ROLE_SPARE);
            return r;
        }

        public Builder featureMap(int v) {
            this.featureMap = v;
            return this;
        }

        public Builder setUuid(UUID v) {
            this.setUuid = v;
            return this;
        }

        public Builder setName(String v) {
            this.setName = v;
            return this;
        }

        public Builder ctime(long v) {
            this.ctime = v;
            return this;
        }

        public Builder level(int v) {
            this.level = v;
            return this;
        }

        public Builder layout(int v) {
            this.layout = v;
            return this;
        }

        public Builder size(long v) {
            this.size = v;
            return this;
        }

        public Builder chunksize(int v) {
            this.chunksize = v;
            return this;
        }

        public Builder raidDisks(int v) {
            this.raidDisks = v;
            return this;
        }

        public Builder bitmapOffset(int v) {
            this.bitmapOffset = v;
            return this;
        }

        public Builder newLevel(int v) {
            this.newLevel = v;
            return this;
        }

        public Builder reshapePosition(long v) {
            this.reshapePosition = v;
            return this;
        }

        public Builder deltaDisks(int v) {
            this.deltaDisks = v;
            return this;
        }

        public Builder newLayout(int v) {
            this.newLayout = v;
            return this;
        }

        public Builder newChunk(int v) {
            this.newChunk = v;
            return this;
        }

        public Builder newOffset(int v) {
            this.newOffset = v;
            return this;
        }

        public Builder dataOffset(long v) {
            this.dataOffset = v;
            return this;
        }

        public Builder dataSize(long v) {
            this.dataSize = v;
            return this;
        }

        public Builder superOffset(long v) {
            this.superOffset = v;
            return this;
        }

        public Builder recoveryOffset(long v) {
            this.recoveryOffset = v;
            return this;
        }

        public Builder devNumber(int v) {
            this.devNumber = v;
            return this;
        }

        public Builder cntCorrectedRead(int v) {
            this.cntCorrectedRead = v;
            return this;
        }

        public Builder deviceUuid(UUID v) {
            this.deviceUuid = v;
            return this;
        }

        public Builder devflags(int v) {
            this.devflags = v;
            return this;
        }

        public Builder bblogShift(int v) {
            this.bblogShift = v;
            return this;
        }

        public Builder bblogSize(int v) {
            this.bblogSize = v;
            return this;
        }

        public Builder bblogOffset(int v) {
            this.bblogOffset = v;
            return this;
        }

        public Builder utime(long v) {
            this.utime = v;
            return this;
        }

        public Builder events(long v) {
            this.events = v;
            return this;
        }

        public Builder resyncOffset(long v) {
            this.resyncOffset = v;
            return this;
        }

        /** Sets max_dev, keeping existing roles and filling new entries with ROLE_SPARE. */
        public Builder maxDev(int n) {
            if (n < 1 || n > MAX_MAX_DEV) {
                throw new IllegalArgumentException("max_dev must be 1.." + MAX_MAX_DEV + ": " + n);
            }
            int[] r = spareRoles(n);
            System.arraycopy(devRoles, 0, r, 0, Math.min(n, devRoles.length));
            devRoles = r;
            return this;
        }

        /** Replaces dev_roles (and so max_dev) with a copy of {@code roles}. */
        public Builder devRoles(int[] roles) {
            this.devRoles = roles.clone();
            return this;
        }

        /** Sets dev_roles[devNumber], growing max_dev if needed. */
        public Builder devRole(int devNumber, int role) {
            if (role < 0 || role > 0xffff) {
                throw new IllegalArgumentException("role must be a u16: " + role);
            }
            if (devNumber >= devRoles.length) {
                maxDev(devNumber + 1);
            }
            devRoles[devNumber] = role;
            return this;
        }

        /** Sets the bits of {@code feature} in feature_map. */
        public Builder withFeature(int feature) {
            this.featureMap |= feature;
            return this;
        }

        /** Clears the bits of {@code feature} in feature_map. */
        public Builder withoutFeature(int feature) {
            this.featureMap &= ~feature;
            return this;
        }

        public Superblock build() {
            return new Superblock(this);
        }
    }
}
