package org.clustermd.raid1.sb;

import static org.clustermd.raid1.sb.SuperblockFormatException.Field;

/**
 * The geometry and consistency checks of a decoded (or about to be written) v1.2 superblock,
 * after the kernel's super_1_load/super_1_validate and mdadm's load_super1. Structural checks
 * (magic, version, checksum, padding) live in {@link SuperblockCodec#decode}.
 *
 * <p>Stateless and thread-safe.
 */
final class SuperblockValidator {
    /** The kernel refuses smaller data areas ("data_size too small"). */
    private static final long MIN_DATA_SIZE = 10;

    private SuperblockValidator() {}

    /**
     * @param deviceSectors the leg size in sectors, or a value {@code <= 0} when unknown (the
     *     checks against the device end are then skipped)
     */
    static void validate(String leg, Superblock sb, long deviceSectors) throws SuperblockFormatException {
        long superOffset = sb.superOffset();
        if (superOffset != Superblock.V1_2_SUPER_OFFSET) {
            throw new SuperblockFormatException(
                    leg,
                    Field.SUPER_OFFSET,
                    "sector " + superOffset + " but a v1.2 superblock sits at sector " + Superblock.V1_2_SUPER_OFFSET);
        }
        long sbSectors = (sb.byteSize() + 511) / 512;
        long blockEnd = superOffset + SuperblockCodec.BLOCK_SIZE / 512;
        long dataOffset = sb.dataOffset();
        if (dataOffset < blockEnd) {
            throw new SuperblockFormatException(
                    leg,
                    Field.DATA_OFFSET,
                    "sector " + dataOffset + " overlaps the superblock block (sectors " + superOffset + ".."
                            + (blockEnd - 1) + ")");
        }
        if (deviceSectors > 0 && dataOffset >= deviceSectors) {
            throw new SuperblockFormatException(
                    leg,
                    Field.DATA_OFFSET,
                    "sector " + dataOffset + " is beyond the end of the device (" + deviceSectors + " sectors)");
        }
        long dataSize = sb.dataSize();
        if (dataSize < MIN_DATA_SIZE) {
            throw new SuperblockFormatException(
                    leg,
                    Field.DATA_SIZE,
                    Long.toUnsignedString(dataSize) + " sectors is too small (at least " + MIN_DATA_SIZE + ")");
        }
        if (deviceSectors > 0 && dataSize > deviceSectors - dataOffset) {
            throw new SuperblockFormatException(
                    leg,
                    Field.DATA_SIZE,
                    "data_offset " + dataOffset + " + data_size "
                            + Long.toUnsignedString(dataSize) + " sectors run past the end of the device ("
                            + deviceSectors
                            + " sectors): device too small for the data described");
        }
        long size = sb.size();
        if (size <= 0 || size > dataSize) {
            throw new SuperblockFormatException(
                    leg,
                    Field.SIZE,
                    Long.toUnsignedString(size) + " sectors is not within 1..data_size (" + dataSize + ")");
        }
        if (sb.hasFeature(Superblock.FEATURE_BITMAP_OFFSET)) {
            long bitmapStart = superOffset + sb.bitmapOffset();
            if (sb.bitmapOffset() < sbSectors || bitmapStart >= dataOffset) {
                throw new SuperblockFormatException(
                        leg,
                        Field.BITMAP_OFFSET,
                        sb.bitmapOffset()
                                + " sectors from the superblock puts the bitmap outside the space between the superblock"
                                + " (" + sbSectors + " sectors) and data_offset " + dataOffset);
            }
        }
        if (sb.bblogSize() != 0 || sb.bblogOffset() != 0) {
            long start = superOffset + sb.bblogOffset();
            if (sb.bblogOffset() < sbSectors || start + sb.bblogSize() > dataOffset) {
                throw new SuperblockFormatException(
                        leg,
                        Field.BBLOG,
                        "bad-block log of " + sb.bblogSize() + " sectors at " + sb.bblogOffset()
                                + " from the superblock lies outside the metadata area");
            }
        }
        if (sb.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET)
                && (sb.recoveryOffset() < 0 || sb.recoveryOffset() > size)) {
            throw new SuperblockFormatException(
                    leg, Field.RECOVERY_OFFSET, Long.toUnsignedString(sb.recoveryOffset()) + " is beyond size " + size);
        }
        long resync = sb.resyncOffset();
        if (resync != Superblock.MAX_SECTOR && (resync < 0 || resync > size)) {
            throw new SuperblockFormatException(
                    leg,
                    Field.RESYNC_OFFSET,
                    Long.toUnsignedString(resync) + " is neither MaxSector nor within size " + size);
        }
        int maxDev = sb.maxDev();
        if (sb.devNumber() < 0 || sb.devNumber() >= maxDev) {
            throw new SuperblockFormatException(
                    leg,
                    Field.DEV_NUMBER,
                    Integer.toUnsignedString(sb.devNumber()) + " has no dev_roles entry (max_dev " + maxDev + ")");
        }
        int raidDisks = sb.raidDisks();
        if (raidDisks < 1 || raidDisks > maxDev) {
            throw new SuperblockFormatException(
                    leg,
                    Field.RAID_DISKS,
                    Integer.toUnsignedString(raidDisks) + " is outside 1..max_dev (" + maxDev + ")");
        }
        int activeLimit = raidDisks;
        if (sb.hasFeature(Superblock.FEATURE_RESHAPE_ACTIVE) && sb.deltaDisks() < 0) {
            activeLimit -= sb.deltaDisks(); // shrinking: the old, larger count is still on disk
        }
        int[] roles = sb.devRoles();
        int[] holders = new int[activeLimit];
        for (int i = 0; i < roles.length; i++) {
            int r = roles[i];
            if (r == Superblock.ROLE_SPARE || r == Superblock.ROLE_FAULTY || r == Superblock.ROLE_JOURNAL) {
                continue;
            }
            if (r >= activeLimit) {
                throw new SuperblockFormatException(
                        leg,
                        Field.DEV_ROLES,
                        "dev_roles[" + i + "] = " + r + " is neither a slot below raid_disks (" + raidDisks
                                + ") nor spare/faulty/journal");
            }
            if (++holders[r] > 2) {
                throw new SuperblockFormatException(
                        leg,
                        Field.DEV_ROLES,
                        "slot " + r + " is held by more than two devices (one plus its replacement at most)");
            }
        }
    }
}
