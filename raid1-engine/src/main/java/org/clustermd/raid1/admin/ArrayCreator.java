package org.clustermd.raid1.admin;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.DeviceBitmapStorage;
import org.clustermd.raid1.sb.DiskLayout;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockBuilder;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.sb.SuperblockFormatException;

/**
 * {@code mdadm --create --level=1 --bitmap=clustered}: writes a v1.2 superblock and the bitmap
 * area to every leg, so that mdadm and {@link org.clustermd.raid1.Raid1Array#assemble} both
 * recognise the array.
 *
 * <p>Legs {@code 0 .. raid_devices-1} get roles 0.., the remaining {@code spare_devices} legs
 * are spares. Every leg gets the same data_offset (the largest any leg's layout needs) and the
 * array size is the smallest room any leg leaves (or {@code --size}). Without
 * {@code --assume-clean} the superblock's resync_offset is 0 and slot 0 of the bitmap is all
 * ones, so the first node to assemble resyncs the whole array, as md does; with it,
 * resync_offset is MaxSector and every slot is clear. Events start at 0.
 *
 * <p>The bitmap area is written before the superblock, so a leg interrupted half-way has no
 * valid superblock rather than one pointing at garbage. Nothing is written to any leg until every
 * leg has been opened, checked and proven writable and every superblock and bitmap built and
 * validated: a create that fails half-way would otherwise have destroyed the first legs' old
 * array for nothing (a read-only second leg used to fail only after the first was overwritten).
 * The same device given twice, under any path, is refused ({@link LegIdentity}).
 *
 * <p>Stateless and thread-safe.
 */
public final class ArrayCreator {
    private static final SecureRandom RANDOM = new SecureRandom();

    private ArrayCreator() {}

    /** Opens the legs at {@code paths} (O_DIRECT), creates the array on them, closes them. */
    public static CreateResult create(CreateOptions options, List<Path> paths) throws IOException {
        LegIdentity.requireDistinct(paths);
        for (Path p : paths) BlockDevices.requireNotInUse(p);
        List<BlockDevice> legs = new ArrayList<>();
        try {
            for (Path p : paths) legs.add(BlockDevices.open(p));
            return createOn(options, legs);
        } finally {
            IOException first = null;
            for (BlockDevice d : legs) {
                try {
                    d.close();
                } catch (IOException e) {
                    if (first == null) first = e;
                }
            }
            if (first != null) throw first;
        }
    }

    /** Creates the array on open legs (which stay open). */
    public static CreateResult createOn(CreateOptions o, List<BlockDevice> legs) throws IOException {
        int raidDisks = o.raidDevices() > 0 ? o.raidDevices() : legs.size() - o.spareDevices();
        if (raidDisks < 1) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID, o.name() + ": no raid devices among " + legs.size() + " legs");
        }
        if (raidDisks + o.spareDevices() != legs.size()) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID,
                    o.name() + ": --raid-devices " + raidDisks + " + --spare-devices " + o.spareDevices() + " != "
                            + legs.size() + " legs given");
        }
        if (legs.size() > Superblock.DEFAULT_MAX_DEV) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, o.name() + ": too many legs: " + legs.size());
        }
        int nodes = o.nodes();
        long dataOffset = 0;
        for (BlockDevice leg : legs) {
            if (leg.logicalBlockSize() > 4096) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        leg.name() + ": logical block size " + leg.logicalBlockSize() + " is larger than 4096");
            }
            dataOffset =
                    Math.max(dataOffset, layout(leg, nodes, o.bitmapChunk()).dataOffset());
        }
        long size = o.sizeSectors();
        for (BlockDevice leg : legs) {
            long room = leg.size() / 512 - dataOffset;
            room -= room % 8;
            if (o.sizeSectors() > 0 && room < o.sizeSectors()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        leg.name() + ": leg of " + leg.size()
                                + " bytes leaves " + room + " data sectors after data_offset " + dataOffset
                                + ", less than --size " + o.sizeSectors());
            }
            if (room < 8) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        leg.name() + ": leg of " + leg.size() + " bytes is too small for data_offset " + dataOffset);
            }
            if (o.sizeSectors() == 0) size = size == 0 ? room : Math.min(size, room);
        }
        UUID uuid = o.uuid() != null ? o.uuid() : randomUuid();
        long now = Superblock.mdTime(o.ctime() != null ? o.ctime() : Instant.now());
        boolean withBitmap = o.bitmap() != BitmapMode.NONE;
        int[] roles = new int[Superblock.DEFAULT_MAX_DEV];
        java.util.Arrays.fill(roles, Superblock.ROLE_SPARE);
        for (int i = 0; i < raidDisks; i++) roles[i] = i;

        // everything is built and checked first; the first write happens only when every leg can take its own
        List<Superblock> written = new ArrayList<>();
        BitmapSuperblock template = null;
        try {
            if (withBitmap) template = bitmapTemplate(o, uuid, size, nodes);
        } catch (BitmapException e) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, o.name() + ": " + e.getMessage(), e);
        }
        for (int i = 0; i < legs.size(); i++) {
            BlockDevice leg = legs.get(i);
            SuperblockBuilder b = Superblock.builder()
                    .setUuid(uuid)
                    .setName(o.name())
                    .ctime(now)
                    .utime(now)
                    .level(Superblock.LEVEL_RAID1)
                    .size(size)
                    .raidDisks(raidDisks)
                    .dataOffset(dataOffset)
                    .dataSize(leg.size() / 512 - dataOffset)
                    .devNumber(i)
                    .deviceUuid(randomUuid())
                    .events(0)
                    .resyncOffset(o.assumeClean() ? Superblock.MAX_SECTOR : 0)
                    .devRoles(roles);
            if (withBitmap) {
                b.withFeature(Superblock.FEATURE_BITMAP_OFFSET).bitmapOffset(DiskLayout.BITMAP_OFFSET);
                if (o.bitmap() == BitmapMode.CLUSTERED) b.withFeature(Superblock.FEATURE_CLUSTERED);
            }
            Superblock sb = b.build();
            try {
                SuperblockCodec.validate(leg.name(), sb, leg.size() / 512);
            } catch (SuperblockFormatException e) {
                throw new Raid1Exception(Raid1Exception.Code.INVALID, e.getMessage(), e);
            }
            written.add(sb);
        }
        for (BlockDevice leg : legs) checkWritable(leg);
        for (int i = 0; i < legs.size(); i++) {
            BlockDevice leg = legs.get(i);
            Superblock sb = written.get(i);
            try {
                if (withBitmap) BitmapArea.create(DeviceBitmapStorage.of(leg, sb), template, o.assumeClean());
                SuperblockCodec.write(leg, sb);
            } catch (BitmapException | BlockDeviceException e) {
                throw new Raid1Exception(
                        Raid1Exception.Code.METADATA,
                        leg.name() + ": writing the metadata failed: " + e.getMessage(),
                        e);
            }
        }
        return new CreateResult(uuid, size, dataOffset, written);
    }

    private static DiskLayout layout(BlockDevice leg, int nodes, long chunk) throws Raid1Exception {
        try {
            return DiskLayout.compute(leg.name(), leg.size(), nodes, chunk);
        } catch (BlockDeviceException e) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, e.getMessage(), e);
        }
    }

    private static BitmapSuperblock bitmapTemplate(CreateOptions o, UUID uuid, long size, int nodes)
            throws BitmapException {
        return o.bitmap() == BitmapMode.CLUSTERED
                ? BitmapSuperblock.clustered(uuid, size, o.bitmapChunk(), nodes, o.clusterName())
                : BitmapSuperblock.unclustered(uuid, size, o.bitmapChunk());
    }

    /**
     * Proves {@code leg} takes writes by writing back the block the superblock will go to, as it
     * is (so a leg that fails here is left exactly as it was). Opening read-write is not proof: a
     * read-only loop device opens read-write and refuses only the write (EPERM).
     */
    private static void checkWritable(BlockDevice leg) throws Raid1Exception {
        ByteBuffer block = AlignedBuffers.allocate(SuperblockCodec.BLOCK_SIZE);
        try {
            leg.read(SuperblockCodec.byteOffset(), block);
            block.clear(); // the whole block, whether or not the read moved the position
            leg.write(SuperblockCodec.byteOffset(), block, true);
        } catch (IOException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.METADATA,
                    leg.name() + ": cannot be written, so nothing was " + "written to any leg: " + e.getMessage(),
                    e);
        }
    }

    private static UUID randomUuid() {
        byte[] b = new byte[16];
        RANDOM.nextBytes(b);
        long hi = 0;
        long lo = 0;
        for (int i = 0; i < 8; i++) hi = hi << 8 | (b[i] & 0xff);
        for (int i = 8; i < 16; i++) lo = lo << 8 | (b[i] & 0xff);
        return new UUID(hi, lo);
    }
}
