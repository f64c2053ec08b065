package org.clustermd.raid1.sb;

import java.time.Instant;
import java.util.Random;
import java.util.UUID;

/** Test data: seeded random valid superblocks and a typical raid1 member. */
final class Superblocks {
    private Superblocks() {}

    /** A valid superblock for a device of {@link #deviceSectors(Superblock)} sectors. */
    static Superblock random(long seed) {
        Random r = new Random(seed);
        int maxDev = r.nextInt(4) == 0 ? 1 + r.nextInt(Superblock.MAX_MAX_DEV) : 1 + r.nextInt(400);
        int raidDisks = 1 + r.nextInt(Math.min(maxDev, 64));
        int[] roles = new int[maxDev];
        for (int i = 0; i < maxDev; i++) {
            int k = r.nextInt(10);
            roles[i] = k < 5 && i < raidDisks
                    ? i
                    : k < 7 ? Superblock.ROLE_SPARE : k < 9 ? Superblock.ROLE_FAULTY : Superblock.ROLE_JOURNAL;
        }
        long sbSectors = (256 + 2L * maxDev + 511) / 512;
        long dataOffset = 16 + r.nextInt(1 << 20);
        long dataSize = 10 + (r.nextLong() & ((1L << 40) - 1));
        long size = 1 + (r.nextLong() & Long.MAX_VALUE) % dataSize;
        int features = r.nextInt(Superblock.FEATURE_ALL + 1) & ~Superblock.FEATURE_RESHAPE_ACTIVE;
        int bitmapOffset = r.nextInt();
        if ((features & Superblock.FEATURE_BITMAP_OFFSET) != 0) {
            bitmapOffset = (int) (sbSectors + r.nextInt((int) (dataOffset - 8 - sbSectors)));
        }
        long recovery = r.nextLong();
        if ((features & Superblock.FEATURE_RECOVERY_OFFSET) != 0) {
            recovery = (r.nextLong() & Long.MAX_VALUE) % (size + 1);
        }
        int bblogSize = 0;
        int bblogOffset = 0;
        if (r.nextBoolean() && dataOffset - 8 > sbSectors + 8) {
            bblogSize = 8;
            bblogOffset = (int) (dataOffset - 8 - 8);
        }
        StringBuilder name = new StringBuilder();
        int len = r.nextInt(33);
        for (int i = 0; i < len; i++) {
            name.append((char) ('!' + r.nextInt(94)));
        }
        return Superblock.builder()
                .featureMap(features)
                .setUuid(new UUID(r.nextLong(), r.nextLong()))
                .setName(name.toString())
                .ctime(Superblock.mdTime(
                        Instant.ofEpochSecond(r.nextInt(Integer.MAX_VALUE), r.nextInt(1_000_000) * 1000L)))
                .level(r.nextInt(12) - 1)
                .layout(r.nextInt())
                .size(size)
                .chunksize(r.nextInt())
                .raidDisks(raidDisks)
                .bitmapOffset(bitmapOffset)
                .newLevel(r.nextInt())
                .reshapePosition(r.nextLong())
                .deltaDisks(r.nextInt())
                .newLayout(r.nextInt())
                .newChunk(r.nextInt())
                .newOffset(r.nextInt())
                .dataOffset(dataOffset)
                .dataSize(dataSize)
                .recoveryOffset(recovery)
                .devNumber(r.nextInt(maxDev))
                .cntCorrectedRead(r.nextInt())
                .deviceUuid(new UUID(r.nextLong(), r.nextLong()))
                .devflags(r.nextInt(256))
                .bblogShift(r.nextInt(256))
                .bblogSize(bblogSize)
                .bblogOffset(bblogOffset)
                .utime(r.nextLong())
                .events(r.nextLong())
                .resyncOffset(r.nextBoolean() ? Superblock.MAX_SECTOR : (r.nextLong() & Long.MAX_VALUE) % (size + 1))
                .devRoles(roles)
                .build();
    }

    static long deviceSectors(Superblock sb) {
        return sb.dataOffset() + sb.dataSize();
    }

    /** A 2-leg raid1 member as create would write it, for a leg laid out by {@code layout}. */
    static Superblock raid1Member(DiskLayout layout, int devNumber, boolean clustered) {
        SuperblockBuilder b = Superblock.builder()
                .setUuid(UUID.fromString("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"))
                .setName("md-test")
                .ctime(Superblock.mdTime(Instant.parse("2026-11-22T10:00:00Z")))
                .utime(Superblock.mdTime(Instant.parse("2026-11-22T10:05:00.123456Z")))
                .level(Superblock.LEVEL_RAID1)
                .raidDisks(2)
                .size(layout.size())
                .dataOffset(layout.dataOffset())
                .dataSize(layout.dataSize())
                .devNumber(devNumber)
                .deviceUuid(new UUID(0x1111222233334444L + devNumber, 0x5555666677778888L))
                .events(42)
                .resyncOffset(Superblock.MAX_SECTOR)
                .devRole(0, 0)
                .devRole(1, 1);
        if (clustered) {
            b.withFeature(Superblock.FEATURE_BITMAP_OFFSET | Superblock.FEATURE_CLUSTERED)
                    .bitmapOffset(layout.bitmapOffset());
        }
        return b.build();
    }
}
