package org.clustermd.raid1.sb;

import org.clustermd.raid1.io.BlockDeviceException;

/**
 * Where things live on a leg of a clustered md v1.2 raid1 (docs/md-cluster-protocol.md §h.2):
 *
 * <pre>
 * sector 0        8               16                                   data_offset
 *        | unused | superblock 4K | slot 0 | slot 1 | ... | slot N-1 | pad | data (data_size) |
 *                 ^ super_offset  ^ super_offset + bitmap_offset (+8 sectors, as mdadm)
 * </pre>
 *
 * Each bitmap slot is {@code round_up_4KiB(256 + ceil(chunks / 8))} bytes with
 * {@code chunks = ceil(size * 512 / chunk)} — the stride the kernel (md_bitmap_read_sb) and mdadm
 * (calc_bitmap_size) both derive from the bitmap superblock's sync_size, so it is computed from
 * the array {@code size}, not from the leg. The reserved area is sized for the largest array the
 * leg could hold, so every stride fits. data_offset is that area's end rounded up to 1 MiB
 * (2048 sectors), an offset mdadm accepts and that keeps the data 1 MiB-aligned. All values are
 * in 512-byte sectors unless the name says bytes.
 *
 * <p>This class only reserves and locates the bitmap area; the bitmap module owns its format.
 *
 * <p>Immutable; thread-safe.
 *
 * @param legSectors the whole leg, sectors
 * @param nodes bitmap slots (cluster nodes)
 * @param bitmapChunkBytes bytes covered by one bitmap bit
 * @param superOffset superblock sector (8)
 * @param bitmapOffset bitmap start relative to the superblock (8)
 * @param bitmapAreaSectors sectors reserved for all slots (nodes x largest stride)
 * @param slotBytes stride between slots for this {@code size}, bytes
 * @param dataOffset first data sector
 * @param dataSize sectors from data_offset to the end of the leg
 * @param size the array size (component size used), sectors: data_size rounded down to 4 KiB
 *     unless a smaller size was asked for
 * @param chunks bitmap bits per slot for this {@code size}
 */
public record DiskLayout(
        long legSectors,
        int nodes,
        long bitmapChunkBytes,
        long superOffset,
        int bitmapOffset,
        long bitmapAreaSectors,
        long slotBytes,
        long dataOffset,
        long dataSize,
        long size,
        long chunks) {

    /** bitmap_super_t is 256 bytes. */
    public static final int BITMAP_SUPER_BYTES = 256;
    /** data_offset alignment: 1 MiB. */
    public static final long DATA_ALIGN_SECTORS = 2048;
    /** bitmap_offset mdadm uses for v1.2: right after the 4 KiB superblock block. */
    public static final int BITMAP_OFFSET = 8;
    /** Slots are limited by md-cluster's one-word recovery map. */
    public static final int MAX_NODES = 64;

    private static final long SECTOR = 512;
    private static final long PAGE = 4096;

    /** Lays out a leg of {@code legBytes} using all of it for data. */
    public static DiskLayout compute(String leg, long legBytes, int nodes, long bitmapChunkBytes)
            throws BlockDeviceException {
        return compute(leg, legBytes, nodes, bitmapChunkBytes, 0);
    }

    /**
     * Lays out a leg.
     *
     * @param leg the leg's name, for the error message
     * @param requestedSize array size in sectors, or 0 for "as large as the leg allows"
     * @throws BlockDeviceException DEVICE_TOO_SMALL when the leg cannot hold the metadata plus one
     *     4 KiB data block (or the requested size)
     * @throws IllegalArgumentException for nodes outside 1..64 or a chunk that is not a power of
     *     two of at least 4 KiB
     */
    public static DiskLayout compute(String leg, long legBytes, int nodes, long bitmapChunkBytes, long requestedSize)
            throws BlockDeviceException {
        if (nodes < 1 || nodes > MAX_NODES) {
            throw new IllegalArgumentException("nodes must be 1.." + MAX_NODES + ": " + nodes);
        }
        if (bitmapChunkBytes < PAGE || Long.bitCount(bitmapChunkBytes) != 1) {
            throw new IllegalArgumentException(
                    "bitmap chunk must be a power of two >= 4096 bytes: " + bitmapChunkBytes);
        }
        if (requestedSize < 0) {
            throw new IllegalArgumentException("requested size must be >= 0: " + requestedSize);
        }
        long legSectors = legBytes / SECTOR;
        long superOffset = Superblock.V1_2_SUPER_OFFSET;
        long bitmapStart = superOffset + BITMAP_OFFSET;
        // reserve for the largest array this leg could carry (the stride only shrinks with size)
        long maxSlotSectors = slotBytes(Math.max(0, legSectors - bitmapStart), bitmapChunkBytes) / SECTOR;
        long area = nodes * maxSlotSectors;
        long dataOffset = roundUp(bitmapStart + area, DATA_ALIGN_SECTORS);
        long dataSize = legSectors - dataOffset;
        long minimum = requestedSize > 0 ? requestedSize : PAGE / SECTOR;
        if (dataSize < minimum) {
            long need = (dataOffset + roundUp(minimum, PAGE / SECTOR)) * SECTOR;
            throw new BlockDeviceException(
                    BlockDeviceException.Code.DEVICE_TOO_SMALL,
                    leg,
                    "leg of " + legBytes
                            + " bytes is too small for " + nodes + " bitmap slots and "
                            + (requestedSize > 0 ? requestedSize + " data sectors" : "any data") + ": at least " + need
                            + " bytes needed (data_offset " + dataOffset + " sectors)");
        }
        long size = requestedSize > 0 ? requestedSize : dataSize - dataSize % (PAGE / SECTOR);
        long chunks = chunks(size, bitmapChunkBytes);
        return new DiskLayout(
                legSectors,
                nodes,
                bitmapChunkBytes,
                superOffset,
                BITMAP_OFFSET,
                area,
                slotBytes(size, bitmapChunkBytes),
                dataOffset,
                dataSize,
                size,
                chunks);
    }

    /** Bitmap bits for an array of {@code sizeSectors}: mdadm's bitmap_bits, ceil(size*512/chunk). */
    public static long chunks(long sizeSectors, long bitmapChunkBytes) {
        return (sizeSectors * SECTOR + bitmapChunkBytes - 1) / bitmapChunkBytes;
    }

    /** One slot's stride in bytes: round_up_4KiB(256 + ceil(chunks/8)) (calc_bitmap_size(bms, 4096)). */
    public static long slotBytes(long sizeSectors, long bitmapChunkBytes) {
        long bytes = (chunks(sizeSectors, bitmapChunkBytes) + 7) / 8 + BITMAP_SUPER_BYTES;
        return roundUp(bytes, PAGE);
    }

    /** Byte offset of the first slot (bitmap_super_t of slot 0). */
    public long bitmapStartBytes() {
        return (superOffset + bitmapOffset) * SECTOR;
    }

    /** Byte offset of {@code slot}'s bitmap superblock. */
    public long slotOffsetBytes(int slot) {
        if (slot < 0 || slot >= nodes) {
            throw new IndexOutOfBoundsException("slot " + slot + " of " + nodes);
        }
        return bitmapStartBytes() + slot * slotBytes;
    }

    /** Byte offset of the data area. */
    public long dataOffsetBytes() {
        return dataOffset * SECTOR;
    }

    private static long roundUp(long v, long unit) {
        return (v + unit - 1) / unit * unit;
    }
}
