package org.clustermd.raid1.sb;

import static org.clustermd.raid1.sb.SuperblockFormatException.Field;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;

/**
 * Encodes and decodes {@code struct mdp_superblock_1} (include/uapi/linux/raid/md_p.h), all
 * fields little-endian, in one 4 KiB block at {@code super_offset} (sector 8 for v1.2):
 *
 * <pre>
 * offset size field                 offset size field
 *   0    4   magic 0xa92b4efc         128   8   data_offset
 *   4    4   major_version 1          136   8   data_size
 *   8    4   feature_map              144   8   super_offset
 *  12    4   pad0 (0)                 152   8   recovery_offset
 *  16   16   set_uuid                 160   4   dev_number
 *  32   32   set_name (NUL-padded)    164   4   cnt_corrected_read
 *  64    8   ctime                    168  16   device_uuid
 *  72    4   level                    184   1   devflags
 *  76    4   layout                   185   1   bblog_shift
 *  80    8   size                     186   2   bblog_size
 *  88    4   chunksize                188   4   bblog_offset (signed)
 *  92    4   raid_disks               192   8   utime
 *  96    4   bitmap_offset (signed)   200   8   events
 * 100    4   new_level                208   8   resync_offset
 * 104    8   reshape_position         216   4   sb_csum
 * 112    4   delta_disks              220   4   max_dev
 * 116    4   new_layout               224  32   pad3 (0)
 * 120    4   new_chunk                256 2*max_dev dev_roles[] (u16)
 * 124    4   new_offset (signed)
 * </pre>
 *
 * <p>{@code sb_csum} is calc_sb_1_csum: the sum of the little-endian u32 words of the first
 * {@code 256 + 2 * max_dev} bytes, with sb_csum itself taken as 0 and a trailing u16 added when
 * max_dev is odd, folded once as {@code (sum & 0xffffffff) + (sum >>> 32)} truncated to 32 bits.
 *
 * <p>Decoding validates in this order and stops at the first failure with a
 * {@link SuperblockFormatException} naming the leg and field: magic, major_version, max_dev,
 * sb_csum, pad0/pad3, feature_map (unknown bits), super_offset (must be 8), data_offset (after
 * the superblock and bitmap, within the device), data_size (at least 10 sectors, within the
 * device), size (within data_size), bitmap_offset (after the superblock, before the data),
 * bblog, recovery_offset and resync_offset (within size), dev_number (below max_dev),
 * raid_disks and dev_roles (active roles below raid_disks, no other values than the special
 * ones), set_name (UTF-8). The same rules the kernel's super_1_load and mdadm's load_super1 apply,
 * plus the geometry this engine relies on.
 *
 * <p>Stateless and thread-safe.
 */
public final class SuperblockCodec {
    /** The block the superblock lives in. */
    public static final int BLOCK_SIZE = 4096;

    private static final int CSUM_OFFSET = 216;

    private SuperblockCodec() {}

    /** Byte offset of a v1.2 superblock on its device. */
    public static long byteOffset() {
        return Superblock.V1_2_SUPER_OFFSET * BlockDevice.SECTOR_SIZE;
    }

    /**
     * Encodes {@code sb} into a new 4 KiB aligned direct buffer (position 0, limit 4096), with
     * sb_csum computed; bytes after dev_roles are zero.
     */
    public static ByteBuffer encode(Superblock sb) {
        ByteBuffer b = AlignedBuffers.allocate(BLOCK_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(0, Superblock.MD_SB_MAGIC);
        b.putInt(4, Superblock.MAJOR_VERSION);
        b.putInt(8, sb.featureMap());
        putUuid(b, 16, sb.setUuid());
        byte[] name = sb.setName().getBytes(StandardCharsets.UTF_8);
        b.put(32, name);
        b.putLong(64, sb.ctime());
        b.putInt(72, sb.level());
        b.putInt(76, sb.layout());
        b.putLong(80, sb.size());
        b.putInt(88, sb.chunksize());
        b.putInt(92, sb.raidDisks());
        b.putInt(96, sb.bitmapOffset());
        b.putInt(100, sb.newLevel());
        b.putLong(104, sb.reshapePosition());
        b.putInt(112, sb.deltaDisks());
        b.putInt(116, sb.newLayout());
        b.putInt(120, sb.newChunk());
        b.putInt(124, sb.newOffset());
        b.putLong(128, sb.dataOffset());
        b.putLong(136, sb.dataSize());
        b.putLong(144, sb.superOffset());
        b.putLong(152, sb.recoveryOffset());
        b.putInt(160, sb.devNumber());
        b.putInt(164, sb.cntCorrectedRead());
        putUuid(b, 168, sb.deviceUuid());
        b.put(184, (byte) sb.devflags());
        b.put(185, (byte) sb.bblogShift());
        b.putShort(186, (short) sb.bblogSize());
        b.putInt(188, sb.bblogOffset());
        b.putLong(192, sb.utime());
        b.putLong(200, sb.events());
        b.putLong(208, sb.resyncOffset());
        b.putInt(220, sb.maxDev());
        int[] roles = sb.devRoles();
        for (int i = 0; i < roles.length; i++) {
            b.putShort(Superblock.FIXED_SIZE + 2 * i, (short) roles[i]);
        }
        b.putInt(CSUM_OFFSET, checksum(b));
        return b;
    }

    /**
     * calc_sb_1_csum over {@code block} (absolute indexes from 0; the stored sb_csum is ignored).
     * max_dev is read from the block and must be within 0..1920.
     */
    public static int checksum(ByteBuffer block) {
        ByteBuffer b = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int maxDev = b.getInt(220);
        if (maxDev < 0 || maxDev > Superblock.MAX_MAX_DEV) {
            throw new IllegalArgumentException("max_dev out of range: " + Integer.toUnsignedString(maxDev));
        }
        int size = Superblock.FIXED_SIZE + 2 * maxDev;
        long sum = 0;
        int i = 0;
        for (; size - i >= 4; i += 4) {
            if (i != CSUM_OFFSET) {
                sum += Integer.toUnsignedLong(b.getInt(i));
            }
        }
        if (size - i == 2) {
            sum += Short.toUnsignedLong(b.getShort(i));
        }
        return (int) ((sum & 0xffffffffL) + (sum >>> 32));
    }

    /**
     * Decodes and validates a superblock block.
     *
     * @param leg the device name, for messages
     * @param block at least 4096 bytes from absolute index 0 (position and limit are ignored)
     * @param deviceSectors the leg's size in sectors, for the geometry checks
     */
    public static Superblock decode(String leg, ByteBuffer block, long deviceSectors) throws SuperblockFormatException {
        return decode(leg, block, deviceSectors, true);
    }

    /**
     * {@link #decode} without the sb_csum check, for {@code examine}: mdadm --examine prints a
     * superblock whose checksum is wrong, with "Checksum : X - expected Y", so the operator sees
     * what the rest of it says. Never for assembly.
     */
    public static Superblock decodeIgnoringChecksum(String leg, ByteBuffer block, long deviceSectors)
            throws SuperblockFormatException {
        return decode(leg, block, deviceSectors, false);
    }

    /** sb_csum as stored in {@code block} (absolute index 216). */
    public static int storedChecksum(ByteBuffer block) {
        return block.duplicate().order(ByteOrder.LITTLE_ENDIAN).getInt(CSUM_OFFSET);
    }

    /** Reads the raw 4 KiB superblock block of {@code leg}. */
    public static ByteBuffer readBlock(BlockDevice leg) throws IOException {
        if (leg.size() < byteOffset() + BLOCK_SIZE) {
            throw new SuperblockFormatException(
                    leg.name(),
                    Field.DEVICE,
                    "device of " + leg.size() + " bytes is too small to hold a v1.2 superblock");
        }
        ByteBuffer b = AlignedBuffers.allocate(BLOCK_SIZE);
        leg.read(byteOffset(), b);
        return b;
    }

    private static Superblock decode(String leg, ByteBuffer block, long deviceSectors, boolean checkCsum)
            throws SuperblockFormatException {
        if (block.capacity() < BLOCK_SIZE) {
            throw new SuperblockFormatException(
                    leg, Field.DEVICE, "superblock block shorter than " + BLOCK_SIZE + " bytes");
        }
        ByteBuffer b = block.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int magic = b.getInt(0);
        if (magic != Superblock.MD_SB_MAGIC) {
            throw new SuperblockFormatException(
                    leg,
                    Field.MAGIC,
                    String.format(
                            "0x%08x is not the md superblock magic 0x%08x (no md v1.2 superblock at sector 8)",
                            magic, Superblock.MD_SB_MAGIC));
        }
        int major = b.getInt(4);
        if (major != Superblock.MAJOR_VERSION) {
            throw new SuperblockFormatException(
                    leg, Field.MAJOR_VERSION, "version " + Integer.toUnsignedString(major) + " is not 1");
        }
        int maxDev = b.getInt(220);
        if (maxDev < 1 || maxDev > Superblock.MAX_MAX_DEV) {
            throw new SuperblockFormatException(
                    leg, Field.MAX_DEV, Integer.toUnsignedString(maxDev) + " is outside 1.." + Superblock.MAX_MAX_DEV);
        }
        int stored = b.getInt(CSUM_OFFSET);
        int computed = checksum(b);
        if (checkCsum && stored != computed) {
            throw new SuperblockFormatException(
                    leg,
                    Field.SB_CSUM,
                    String.format("checksum 0x%08x does not match the computed 0x%08x", stored, computed));
        }
        if (b.getInt(12) != 0) {
            throw new SuperblockFormatException(
                    leg, Field.PAD0, "padding is not zero (a feature this code does not know?)");
        }
        for (int i = 224; i < 256; i++) {
            if (b.get(i) != 0) {
                throw new SuperblockFormatException(leg, Field.PAD3, "padding byte " + (i - 224) + " is not zero");
            }
        }
        int features = b.getInt(8);
        if ((features & ~Superblock.FEATURE_ALL) != 0) {
            throw new SuperblockFormatException(
                    leg,
                    Field.FEATURE_MAP,
                    String.format("unknown feature bits 0x%x in 0x%x", features & ~Superblock.FEATURE_ALL, features));
        }
        Superblock sb = Superblock.builder()
                .featureMap(features)
                .setUuid(getUuid(b, 16))
                .setName(name(leg, b))
                .ctime(b.getLong(64))
                .level(b.getInt(72))
                .layout(b.getInt(76))
                .size(b.getLong(80))
                .chunksize(b.getInt(88))
                .raidDisks(b.getInt(92))
                .bitmapOffset(b.getInt(96))
                .newLevel(b.getInt(100))
                .reshapePosition(b.getLong(104))
                .deltaDisks(b.getInt(112))
                .newLayout(b.getInt(116))
                .newChunk(b.getInt(120))
                .newOffset(b.getInt(124))
                .dataOffset(b.getLong(128))
                .dataSize(b.getLong(136))
                .superOffset(b.getLong(144))
                .recoveryOffset(b.getLong(152))
                .devNumber(b.getInt(160))
                .cntCorrectedRead(b.getInt(164))
                .deviceUuid(getUuid(b, 168))
                .devflags(Byte.toUnsignedInt(b.get(184)))
                .bblogShift(Byte.toUnsignedInt(b.get(185)))
                .bblogSize(Short.toUnsignedInt(b.getShort(186)))
                .bblogOffset(b.getInt(188))
                .utime(b.getLong(192))
                .events(b.getLong(200))
                .resyncOffset(b.getLong(208))
                .devRoles(roles(b, maxDev))
                .build();
        SuperblockValidator.validate(leg, sb, deviceSectors);
        return sb;
    }

    /**
     * Reads and validates the v1.2 superblock of {@code leg}.
     *
     * @throws SuperblockFormatException when there is no valid superblock
     * @throws BlockDeviceException when the leg cannot be read
     */
    public static Superblock read(BlockDevice leg) throws IOException {
        ByteBuffer b = readBlock(leg);
        return decode(leg.name(), b, leg.size() / BlockDevice.SECTOR_SIZE);
    }

    /** The checks {@link #write} makes, without writing: whether {@code sb} would decode on a device of that size. */
    public static void validate(String leg, Superblock sb, long deviceSectors) throws SuperblockFormatException {
        SuperblockValidator.validate(leg, sb, deviceSectors);
    }

    /**
     * Validates {@code sb} against {@code leg} and writes it with FUA (durable on return).
     *
     * @throws SuperblockFormatException if {@code sb} would not pass {@link #decode} on this leg
     */
    public static void write(BlockDevice leg, Superblock sb) throws IOException {
        SuperblockValidator.validate(leg.name(), sb, leg.size() / BlockDevice.SECTOR_SIZE);
        leg.write(byteOffset(), encode(sb), true);
    }

    static int utf8Length(String s) {
        return s.getBytes(StandardCharsets.UTF_8).length;
    }

    private static String name(String leg, ByteBuffer b) throws SuperblockFormatException {
        byte[] raw = new byte[32];
        b.get(32, raw);
        int n = 0;
        while (n < raw.length && raw[n] != 0) {
            n++;
        }
        for (int i = n; i < raw.length; i++) {
            if (raw[i] != 0) {
                throw new SuperblockFormatException(
                        leg, Field.SET_NAME, "bytes after the terminating NUL are not zero");
            }
        }
        String s = new String(raw, 0, n, StandardCharsets.UTF_8);
        if (utf8Length(s) != n) {
            throw new SuperblockFormatException(leg, Field.SET_NAME, "not valid UTF-8");
        }
        return s;
    }

    private static int[] roles(ByteBuffer b, int maxDev) {
        int[] r = new int[maxDev];
        for (int i = 0; i < maxDev; i++) {
            r[i] = Short.toUnsignedInt(b.getShort(Superblock.FIXED_SIZE + 2 * i));
        }
        return r;
    }

    private static void putUuid(ByteBuffer b, int at, UUID u) {
        // md keeps UUIDs as 16 raw bytes; keep Java's big-endian reading of them
        b.order(ByteOrder.BIG_ENDIAN);
        b.putLong(at, u.getMostSignificantBits());
        b.putLong(at + 8, u.getLeastSignificantBits());
        b.order(ByteOrder.LITTLE_ENDIAN);
    }

    private static UUID getUuid(ByteBuffer b, int at) {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        return new UUID(be.getLong(at), be.getLong(at + 8));
    }

    /** mdadm's rendering of a 16-byte UUID: four groups of 8 hex digits joined by ':'. */
    public static String mdadmUuid(UUID u) {
        String hex = String.format("%016x%016x", u.getMostSignificantBits(), u.getLeastSignificantBits());
        return hex.substring(0, 8) + ":" + hex.substring(8, 16) + ":" + hex.substring(16, 24) + ":" + hex.substring(24);
    }
}
