package org.clustermd.raid1.sb;

import java.time.Instant;
import java.util.Arrays;
import java.util.Objects;
import java.util.UUID;

/**
 * One leg's md v1.2 superblock, {@code struct mdp_superblock_1} of
 * include/uapi/linux/raid/md_p.h, as a value in the kernel's four groups: constant array
 * information ({@link ArrayInfo}, bytes 0-127), constant this-device information
 * ({@link DeviceInfo}, 128-191), array state information ({@link StateInfo}, 192-255) and the
 * device roles ({@link DevRoles}, from 256). Every field of the on-disk structure is here except
 * magic and major_version (constants), the checksum (computed by {@link SuperblockCodec} when
 * encoding, verified when decoding) and the padding (always zero). Accessors carry md's field
 * names in camelCase, on the groups and, for call sites, on the superblock itself; sectors are
 * 512 bytes. {@code max_dev} is the length of {@link #devRoles()}.
 *
 * <p>Build one with {@link #builder()} or change one with {@link #toBuilder()}; the canonical
 * constructor checks what the builder's {@code build()} always checked, in the same order.
 *
 * <p>Immutable (the roles are copied in and out) and therefore thread-safe.
 */
public record Superblock(ArrayInfo array, DeviceInfo device, StateInfo state, DevRoles roles) {
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

    /**
     * Constant array information (bytes 0-127 after magic and major_version; pad0 is zero).
     * The fields are documented on {@link Superblock}'s accessors of the same names.
     */
    public record ArrayInfo(
            int featureMap,
            UUID setUuid,
            String setName,
            long ctime,
            int level,
            int layout,
            long size,
            int chunksize,
            int raidDisks,
            int bitmapOffset,
            int newLevel,
            long reshapePosition,
            int deltaDisks,
            int newLayout,
            int newChunk,
            int newOffset) {}

    /** Constant this-device information (bytes 128-191); documented as {@link ArrayInfo}. */
    public record DeviceInfo(
            long dataOffset,
            long dataSize,
            long superOffset,
            long recoveryOffset,
            int devNumber,
            int cntCorrectedRead,
            UUID deviceUuid,
            int devflags,
            int bblogShift,
            int bblogSize,
            int bblogOffset) {}

    /**
     * Array state information (bytes 192-255): sb_csum is the codec's, max_dev is the length of
     * {@link DevRoles}, pad3 is zero.
     */
    public record StateInfo(long utime, long events, long resyncOffset) {}

    /**
     * Device state information: dev_roles[max_dev], a role per device number (a slot, or
     * ROLE_SPARE/FAULTY/JOURNAL). Copied in and out, compared by content.
     */
    public record DevRoles(int[] roles) {
        public DevRoles {
            roles = roles.clone();
        }

        @Override
        public int[] roles() {
            return roles.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof DevRoles d && Arrays.equals(roles, d.roles);
        }

        @Override
        public int hashCode() {
            return Arrays.hashCode(roles);
        }

        @Override
        public String toString() {
            return "DevRoles" + Arrays.toString(roles);
        }
    }

    public Superblock {
        Objects.requireNonNull(array.setUuid(), "set_uuid");
        Objects.requireNonNull(array.setName(), "set_name");
        Objects.requireNonNull(device.deviceUuid(), "device_uuid");
        int maxDev = roles.roles.length;
        if (maxDev < 1 || maxDev > MAX_MAX_DEV) {
            throw new IllegalArgumentException("max_dev must be 1.." + MAX_MAX_DEV + ": " + maxDev);
        }
        if (SuperblockCodec.utf8Length(array.setName()) > 32) {
            throw new IllegalArgumentException("set_name longer than 32 bytes: " + array.setName());
        }
    }

    public static SuperblockBuilder builder() {
        return new SuperblockBuilder();
    }

    public SuperblockBuilder toBuilder() {
        return new SuperblockBuilder(this);
    }

    // ------------------------------------------------------------------ array: ArrayInfo

    /** feature_map: bit set of FEATURE_* flags. */
    public int featureMap() {
        return array.featureMap();
    }

    /** set_uuid: array UUID (16 bytes, in byte order: most significant long first). */
    public UUID setUuid() {
        return array.setUuid();
    }

    /** set_name: array name, at most 32 bytes of UTF-8, NUL-padded on disk. */
    public String setName() {
        return array.setName();
    }

    /** ctime: creation time, see {@link #mdTime}. */
    public long ctime() {
        return array.ctime();
    }

    /** level: RAID level (1 for raid1). */
    public int level() {
        return array.level();
    }

    /** layout: layout (0 for raid1). */
    public int layout() {
        return array.layout();
    }

    /** size: used size of each component, sectors (the array size for raid1). */
    public long size() {
        return array.size();
    }

    /** chunksize: chunk size in sectors (0 for raid1). */
    public int chunksize() {
        return array.chunksize();
    }

    /** raid_disks: number of active roles. */
    public int raidDisks() {
        return array.raidDisks();
    }

    /** bitmap_offset: signed sectors from the superblock to the bitmap, valid with FEATURE_BITMAP_OFFSET. */
    public int bitmapOffset() {
        return array.bitmapOffset();
    }

    /** new_level: reshape target level (valid with FEATURE_RESHAPE_ACTIVE). */
    public int newLevel() {
        return array.newLevel();
    }

    /** reshape_position: next array address for the reshape. */
    public long reshapePosition() {
        return array.reshapePosition();
    }

    /** delta_disks: change in raid_disks during reshape. */
    public int deltaDisks() {
        return array.deltaDisks();
    }

    /** new_layout: reshape target layout. */
    public int newLayout() {
        return array.newLayout();
    }

    /** new_chunk: reshape target chunk, sectors. */
    public int newChunk() {
        return array.newChunk();
    }

    /** new_offset: signed sectors to add to data_offset in the new layout. */
    public int newOffset() {
        return array.newOffset();
    }

    // ------------------------------------------------------------------ device: DeviceInfo

    /** data_offset: sector where data starts on this device. */
    public long dataOffset() {
        return device.dataOffset();
    }

    /** data_size: sectors usable for data on this device. */
    public long dataSize() {
        return device.dataSize();
    }

    /** super_offset: sector of this superblock (8 for v1.2). */
    public long superOffset() {
        return device.superOffset();
    }

    /** recovery_offset: sectors from data_offset already recovered (valid with FEATURE_RECOVERY_OFFSET). */
    public long recoveryOffset() {
        return device.recoveryOffset();
    }

    /** dev_number: permanent index of this device into dev_roles. */
    public int devNumber() {
        return device.devNumber();
    }

    /** cnt_corrected_read: read errors corrected by rewriting. */
    public int cntCorrectedRead() {
        return device.cntCorrectedRead();
    }

    /** device_uuid: this device's UUID. */
    public UUID deviceUuid() {
        return device.deviceUuid();
    }

    /** devflags: per-device flags (DEVFLAG_WRITE_MOSTLY, DEVFLAG_FAIL_FAST), u8. */
    public int devflags() {
        return device.devflags();
    }

    /** bblog_shift: bad-block log: shift from sectors to block size, u8. */
    public int bblogShift() {
        return device.bblogShift();
    }

    /** bblog_size: bad-block log: sectors reserved, u16. */
    public int bblogSize() {
        return device.bblogSize();
    }

    /** bblog_offset: bad-block log: signed sectors from the superblock. */
    public int bblogOffset() {
        return device.bblogOffset();
    }

    // ------------------------------------------------------------------ state: StateInfo

    /** utime: last update time, see {@link #mdTime}. */
    public long utime() {
        return state.utime();
    }

    /** events: event count, incremented on each superblock update. */
    public long events() {
        return state.events();
    }

    /** resync_offset: sectors from data_offset known in sync; {@link #MAX_SECTOR} when clean. */
    public long resyncOffset() {
        return state.resyncOffset();
    }

    // ------------------------------------------------------------------ roles: DevRoles

    /** max_dev: the number of dev_roles entries. */
    public int maxDev() {
        return roles.roles.length;
    }

    /** dev_roles[max_dev]: role per device number (a slot, or ROLE_SPARE/FAULTY/JOURNAL). */
    public int[] devRoles() {
        return roles.roles();
    }

    /** dev_roles[devNumber], or ROLE_SPARE beyond max_dev (mdadm's role_from_sb). */
    public int devRole(int devNumber) {
        int[] r = roles.roles;
        return devNumber >= 0 && devNumber < r.length ? r[devNumber] : ROLE_SPARE;
    }

    /** This device's own role: {@code devRole(devNumber())}. */
    public int role() {
        return devRole(device.devNumber());
    }

    /** True if every bit of {@code feature} is set in feature_map. */
    public boolean hasFeature(int feature) {
        return (array.featureMap() & feature) == feature;
    }

    /** The superblock's bytes in use: 256 + 2 x max_dev (what the checksum covers). */
    public int byteSize() {
        return FIXED_SIZE + 2 * roles.roles.length;
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
    public String toString() {
        return "Superblock[set_uuid=" + setUuid() + ", set_name=" + setName() + ", level=" + level() + ", raid_disks="
                + raidDisks() + ", dev_number=" + devNumber() + ", role=" + role() + ", events=" + events() + ", size="
                + size()
                + ", data_offset=" + dataOffset() + ", feature_map=0x" + Integer.toHexString(featureMap()) + "]";
    }
}
