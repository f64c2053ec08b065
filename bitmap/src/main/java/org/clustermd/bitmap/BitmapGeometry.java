package org.clustermd.bitmap;

/**
 * Where md puts each bit: the arithmetic of one bitmap area, derived from a superblock.
 *
 * <pre>
 * chunks     = ceil(sync_size / (chunksize / 512))          one bit per chunk
 * slotBytes  = 256 + ceil(chunks / 8)                        superblock, then the bits
 * stride     = roundup(slotBytes, 4096)                      md_bitmap_read_sb, mdadm calc_bitmap_size
 * slot i     = area start + i * stride                       i in [0, slots)
 * chunk c    = byte 256 + c / 8 of its slot, bit c % 8       bit 0 = least significant (set_bit_le)
 * </pre>
 *
 * <p>Both the kernel ({@code md_bitmap_read_sb}: slot × 4 KiB blocks of
 * {@code ((chunks + 7) >> 3) + sizeof(bitmap_super_t)}) and mdadm ({@code locate_bitmap1}:
 * {@code calc_bitmap_size(bms, 4096) × node_num}) place slot {@code i} exactly there.
 *
 * <p>Immutable and thread-safe.
 *
 * @param syncSize  sectors covered
 * @param chunkSize bytes per bit (a power of two {@code >= 512})
 * @param slots     slots in the area ({@code nodes}, or 1 when unclustered)
 */
public record BitmapGeometry(long syncSize, long chunkSize, int slots) {

    /** The I/O and layout unit: md rounds slot areas to 4 KiB and writes whole pages. */
    public static final int PAGE_SIZE = 4096;

    /** Chunks are held in int-indexed tables. */
    public static final long MAX_CHUNKS = Integer.MAX_VALUE - 64L;

    public BitmapGeometry {
        if (syncSize < 0) throw new IllegalArgumentException("negative sync_size " + syncSize);
        if (chunkSize < 512 || Long.bitCount(chunkSize) != 1) {
            throw new IllegalArgumentException("chunksize " + chunkSize + " is not a power of two >= 512");
        }
        if (slots < 1) throw new IllegalArgumentException("slots " + slots + " < 1");
        long chunks = ceilDiv(syncSize, chunkSize / SectorRange.SECTOR_SIZE);
        if (chunks > MAX_CHUNKS) {
            throw new IllegalArgumentException(chunks + " chunks exceed " + MAX_CHUNKS);
        }
    }

    /** The geometry a superblock describes. */
    public static BitmapGeometry of(BitmapSuperblock sb) {
        return new BitmapGeometry(sb.syncSize(), sb.chunkSize(), sb.slots());
    }

    /** Sectors per chunk. */
    public long chunkSectors() {
        return chunkSize / SectorRange.SECTOR_SIZE;
    }

    /** log2 of {@link #chunkSectors()}: md's {@code chunkshift}. */
    public int chunkShift() {
        return Long.numberOfTrailingZeros(chunkSectors());
    }

    /** Number of chunks (bits) in one slot. */
    public int chunks() {
        return (int) ceilDiv(syncSize, chunkSectors());
    }

    /** Bytes of one slot that carry meaning: the superblock plus the bits. */
    public long slotBytes() {
        return BitmapSuperblock.SIZE + ceilDiv(chunks(), 8);
    }

    /** Bytes from one slot to the next: {@link #slotBytes()} rounded up to 4 KiB. */
    public long stride() {
        return ceilDiv(slotBytes(), PAGE_SIZE) * PAGE_SIZE;
    }

    /** 4 KiB pages per slot. */
    public int pages() {
        return (int) (stride() / PAGE_SIZE);
    }

    /** Bytes the whole area needs: {@code slots × stride}. */
    public long areaBytes() {
        return slots * stride();
    }

    /** Byte offset of slot {@code slot} from the start of the area. */
    public long slotOffset(int slot) {
        if (slot < 0 || slot >= slots)
            throw new IllegalArgumentException("slot " + slot + " not in [0, " + slots + ")");
        return slot * stride();
    }

    /** The chunk holding {@code sector}. */
    public int chunkOf(long sector) {
        return (int) (sector >>> chunkShift());
    }

    /** First sector of chunk {@code chunk}. */
    public long chunkStart(long chunk) {
        return chunk << chunkShift();
    }

    /** First sector after chunk {@code chunk}, clipped to {@link #syncSize()}. */
    public long chunkEnd(long chunk) {
        return Math.min((chunk + 1) << chunkShift(), syncSize);
    }

    /** Byte offset, within its slot, of the byte holding chunk {@code chunk}'s bit. */
    public static long bitByte(long chunk) {
        return BitmapSuperblock.SIZE + (chunk >>> 3);
    }

    /** The bit within that byte (0 = least significant). */
    public static int bitInByte(long chunk) {
        return (int) (chunk & 7);
    }

    /** The page of its slot that holds chunk {@code chunk}'s bit. */
    public static int pageOf(long chunk) {
        return (int) (bitByte(chunk) / PAGE_SIZE);
    }

    static long ceilDiv(long a, long b) {
        return (a + b - 1) / b;
    }
}
