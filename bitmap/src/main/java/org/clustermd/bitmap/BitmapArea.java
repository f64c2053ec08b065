package org.clustermd.bitmap;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import org.clustermd.bitmap.BitmapException.Code;
import org.clustermd.bitmap.BitmapException.Field;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.SuperblockCodec;

/**
 * A whole bitmap area, every slot of it, seen from outside any one node: create it as mdadm
 * does, read any slot's superblock and dirty count ({@code examine}, mdadm {@code -X}), and
 * rewrite an unoccupied slot for a resize.
 *
 * <p>Slot 0's superblock defines the geometry of the area (mdadm's {@code locate_bitmap1} uses
 * it to find every other slot). Every read validates: the superblock fields (see
 * {@link SuperblockCodec}), that {@code nodes × stride} fits the storage, that the slot exists,
 * and that one slot fits {@code sectors_reserved} when that is recorded.
 *
 * <p>Thread-safe: holds no mutable state; concurrent use relies on the storage's thread-safety.
 * Writing a slot that a live node owns is the caller's mistake to avoid (md holds that slot's
 * bitmap lock first).
 */
public final class BitmapArea {
    private final BitmapStorage storage;
    private final BitmapSuperblock first;
    private final BitmapGeometry geometry;

    private BitmapArea(BitmapStorage storage, BitmapSuperblock first, BitmapGeometry geometry) {
        this.storage = storage;
        this.first = first;
        this.geometry = geometry;
    }

    /**
     * Writes a fresh area, as {@code mdadm --create --bitmap=clustered} does: every slot gets
     * the template's superblock; slot 0's bits are all set (the first node to assemble resyncs
     * everything) unless {@code assumeClean}, the other slots' are clear. mdadm always writes
     * slot 0 as ones and relies on the md superblock's {@code resync_offset} for
     * {@code --assume-clean}; we write zeros then, so the bitmap alone tells the truth.
     *
     * <p>{@code sectors_reserved} 0 in the template is replaced by the storage size in sectors
     * (what md records as {@code bitmap_info.space}).
     */
    public static BitmapArea create(BitmapStorage storage, BitmapSuperblock template, boolean assumeClean)
            throws BitmapException {
        Objects.requireNonNull(template, "template");
        BitmapSuperblock sb = template.sectorsReserved() != 0
                ? template
                : template.withSectorsReserved(Math.min(storage.size() / SectorRange.SECTOR_SIZE, 0xFFFF_FFFFL));
        String where = storage.name() + " (create)";
        SuperblockCodec.validate(sb, where);
        BitmapGeometry g = checkGeometry(sb, storage.size(), where);
        ByteBuffer buf = BitmapStorage.allocate((int) g.stride());
        try {
            for (int slot = 0; slot < g.slots(); slot++) {
                for (int i = 0; i < buf.capacity(); i++) buf.put(i, (byte) 0);
                SuperblockCodec.encode(sb, buf, 0);
                if (slot == 0 && !assumeClean) setAllBits(buf, g.chunks());
                storage.write(g.slotOffset(slot), buf.duplicate().clear());
            }
            storage.flush();
        } catch (IOException e) {
            throw new BitmapException(Code.STORAGE, where + ": writing the bitmap area failed: " + e.getMessage(), e);
        }
        return new BitmapArea(storage, sb, g);
    }

    /** Reads slot 0's superblock and checks that the area it describes fits the storage. */
    public static BitmapArea read(BitmapStorage storage) throws BitmapException {
        String where = storage.name() + " slot 0";
        ByteBuffer page = BitmapStorage.allocate(BitmapGeometry.PAGE_SIZE);
        readFully(storage, 0, page, where);
        BitmapSuperblock sb = SuperblockCodec.decode(page, 0, where);
        return new BitmapArea(storage, sb, checkGeometry(sb, storage.size(), where));
    }

    public BitmapStorage storage() {
        return storage;
    }

    /** The geometry slot 0 describes. */
    public BitmapGeometry geometry() {
        return geometry;
    }

    /** Slot 0's superblock as read (or written by {@link #create}). */
    public BitmapSuperblock superblock() {
        return first;
    }

    public int slots() {
        return geometry.slots();
    }

    /**
     * Reads slot {@code slot}'s superblock, checking it belongs to this area: same version,
     * UUID, chunk size, sync size and nodes as slot 0.
     */
    public BitmapSuperblock readSuperblock(int slot) throws BitmapException {
        checkSlot(slot);
        String where = where(slot);
        ByteBuffer page = BitmapStorage.allocate(BitmapGeometry.PAGE_SIZE);
        readFully(storage, geometry.slotOffset(slot), page, where);
        BitmapSuperblock sb = SuperblockCodec.decode(page, 0, where);
        checkMatches(sb, slot);
        return sb;
    }

    /**
     * Slot {@code slot} as mdadm reports it: superblock and dirty count, the bits counted over
     * the slot's own {@code sync_size / chunksize} as mdadm counts them. The slot's superblock
     * is field-validated but may differ from slot 0 (a resize in progress); its bits must still
     * fit the area's stride.
     */
    public SlotSummary examine(int slot) throws BitmapException {
        checkSlot(slot);
        String where = where(slot);
        ByteBuffer bytes = readSlot(slot);
        BitmapSuperblock sb = SuperblockCodec.decode(bytes, 0, where);
        BitmapGeometry own;
        try {
            own = new BitmapGeometry(sb.syncSize(), sb.chunkSize(), 1);
        } catch (IllegalArgumentException e) {
            throw BitmapException.format(Field.SYNC_SIZE, where + ": " + e.getMessage());
        }
        if (own.slotBytes() > geometry.stride()) {
            throw BitmapException.format(
                    Field.SYNC_SIZE,
                    where + ": " + own.chunks() + " chunks need " + own.slotBytes() + " bytes, more than the area's "
                            + geometry.stride() + "-byte slots");
        }
        return new SlotSummary(slot, sb, own.chunks(), countBits(bytes, own.chunks()));
    }

    /** {@link #examine} for every slot, in slot order. */
    public List<SlotSummary> examineAll() throws BitmapException {
        List<SlotSummary> out = new ArrayList<>(slots());
        for (int i = 0; i < slots(); i++) out.add(examine(i));
        return out;
    }

    /**
     * Rewrites an unoccupied slot for a new {@code sync_size} (md's
     * {@code cluster_check_sync_size} updates free slots with the resizing node's values): the
     * superblock gets the new size, bits beyond the new end are cleared, the others are kept.
     * Only for resizes that keep the slot stride; the caller holds that slot's bitmap lock.
     */
    public void resizeSlot(int slot, long newSyncSize) throws BitmapException {
        checkSlot(slot);
        String where = where(slot);
        ByteBuffer bytes = readSlot(slot);
        BitmapSuperblock sb = SuperblockCodec.decode(bytes, 0, where);
        // its sync_size may differ from slot 0's: slots are resized one by one
        checkSameArray(sb, slot);
        BitmapSuperblock resized = sb.withSyncSize(newSyncSize);
        BitmapGeometry g = checkGeometry(resized, storage.size(), where);
        if (g.stride() != geometry.stride()) {
            throw new BitmapException(
                    Code.GEOMETRY,
                    where + ": resizing to " + newSyncSize + " sectors changes the slot" + " stride from "
                            + geometry.stride() + " to " + g.stride() + " bytes; every slot would move");
        }
        for (long c = g.chunks(); c < geometry.chunks(); c++) {
            int i = (int) BitmapGeometry.bitByte(c);
            bytes.put(i, (byte) (bytes.get(i) & ~(1 << BitmapGeometry.bitInByte(c))));
        }
        SuperblockCodec.encode(resized, bytes, 0);
        try {
            storage.write(geometry.slotOffset(slot), bytes.clear());
            storage.flush();
        } catch (IOException e) {
            throw new BitmapException(Code.STORAGE, where + ": rewriting the slot failed: " + e.getMessage(), e);
        }
    }

    // ---- package-private helpers shared with WriteIntentBitmap ----

    String where(int slot) {
        return storage.name() + " slot " + slot;
    }

    void checkSlot(int slot) throws BitmapException {
        if (slot < 0 || slot >= geometry.slots()) {
            throw new BitmapException(
                    Code.SLOT_RANGE,
                    storage.name() + ": slot " + slot + " is out of range; the area has "
                            + geometry.slots()
                            + (first.clustered()
                                    ? " node slots (nodes = " + first.nodes() + ")"
                                    : " slot (unclustered bitmap)"));
        }
    }

    /** The whole slot, {@code stride} bytes, in a fresh aligned buffer. */
    ByteBuffer readSlot(int slot) throws BitmapException {
        ByteBuffer buf = BitmapStorage.allocate((int) geometry.stride());
        readFully(storage, geometry.slotOffset(slot), buf, where(slot));
        return buf.clear();
    }

    /** A slot's superblock must describe the same array and layout as slot 0's. */
    void checkMatches(BitmapSuperblock sb, int slot) throws BitmapException {
        checkSameArray(sb, slot);
        if (sb.syncSize() != first.syncSize()) {
            throw BitmapException.format(
                    Field.SYNC_SIZE,
                    where(slot) + ": sync_size " + sb.syncSize() + " differs from slot 0's " + first.syncSize());
        }
    }

    /**
     * {@link #checkMatches} for a slot of a clustered area whose {@code sync_size} may differ
     * from slot 0's (a grow whose nodes died before every slot was resized, which the caller
     * puts right): the same array, at the same stride.
     */
    void checkMatchesButSize(BitmapSuperblock sb, int slot) throws BitmapException {
        checkSameArray(sb, slot);
        BitmapGeometry g = checkGeometry(sb, storage.size(), where(slot));
        if (g.stride() != geometry.stride()) {
            throw BitmapException.format(
                    Field.SYNC_SIZE,
                    where(slot) + ": sync_size " + sb.syncSize() + " needs " + g.stride()
                            + "-byte slots, the area's are " + geometry.stride());
        }
    }

    /** {@link #checkMatches} but for sync_size, which differs while the slots are resized. */
    private void checkSameArray(BitmapSuperblock sb, int slot) throws BitmapException {
        String where = where(slot);
        if (sb.version() != first.version()) {
            throw BitmapException.format(
                    Field.VERSION, where + ": version " + sb.version() + " differs from slot 0's " + first.version());
        }
        if (!sb.uuid().equals(first.uuid())) {
            throw BitmapException.format(
                    Field.UUID, where + ": uuid " + sb.uuid() + " differs from slot 0's " + first.uuid());
        }
        if (sb.chunkSize() != first.chunkSize()) {
            throw BitmapException.format(
                    Field.CHUNKSIZE,
                    where + ": chunksize " + sb.chunkSize() + " differs from slot 0's " + first.chunkSize());
        }
        if (sb.nodes() != first.nodes()) {
            throw BitmapException.format(
                    Field.NODES, where + ": nodes " + sb.nodes() + " differs from slot 0's " + first.nodes());
        }
    }

    /** Validates that the area a superblock describes fits the storage and its reservation. */
    static BitmapGeometry checkGeometry(BitmapSuperblock sb, long capacity, String where) throws BitmapException {
        BitmapGeometry g;
        try {
            g = BitmapGeometry.of(sb);
        } catch (IllegalArgumentException e) {
            // the operator must learn which field is wrong: sync_size and chunksize are what decide the geometry
            throw new BitmapException(
                    Code.GEOMETRY,
                    where + ": impossible geometry from sync_size " + sb.syncSize() + " sectors and chunksize "
                            + sb.chunkSize() + " bytes: " + e.getMessage());
        }
        if (g.areaBytes() > capacity) {
            throw new BitmapException(
                    Code.GEOMETRY,
                    where + ": sync_size " + g.syncSize() + " sectors does not fit: "
                            + g.slots() + " slot(s) of " + g.stride() + " bytes ("
                            + g.chunks() + " chunks of " + g.chunkSize() + " bytes for " + g.syncSize()
                            + " sectors) need "
                            + g.areaBytes() + " bytes but the bitmap area has " + capacity);
        }
        if (sb.sectorsReserved() != 0 && g.slotBytes() > sb.sectorsReserved() * SectorRange.SECTOR_SIZE) {
            throw BitmapException.format(
                    Field.SECTORS_RESERVED,
                    where + ": one slot needs " + g.slotBytes() + " bytes but sectors_reserved is "
                            + sb.sectorsReserved() + " sectors");
        }
        return g;
    }

    static void readFully(BitmapStorage storage, long offset, ByteBuffer dst, String where) throws BitmapException {
        try {
            storage.read(offset, dst.clear());
        } catch (IOException e) {
            throw new BitmapException(Code.STORAGE, where + ": reading the bitmap failed: " + e.getMessage(), e);
        }
        dst.clear();
    }

    static void setAllBits(ByteBuffer slot, long chunks) {
        for (long c = 0; c < chunks; c++) {
            int i = (int) BitmapGeometry.bitByte(c);
            slot.put(i, (byte) (slot.get(i) | (1 << BitmapGeometry.bitInByte(c))));
        }
    }

    static boolean testBit(ByteBuffer slot, long chunk) {
        return (slot.get((int) BitmapGeometry.bitByte(chunk)) & (1 << BitmapGeometry.bitInByte(chunk))) != 0;
    }

    /** mdadm's count_dirty_bits over the first {@code chunks} bits after the superblock. */
    static long countBits(ByteBuffer slot, long chunks) {
        long n = 0;
        long full = chunks >>> 3;
        for (long i = 0; i < full; i++) n += Integer.bitCount(slot.get((int) (BitmapSuperblock.SIZE + i)) & 0xff);
        int rest = (int) (chunks & 7);
        if (rest != 0) n += Integer.bitCount(slot.get((int) (BitmapSuperblock.SIZE + full)) & ((1 << rest) - 1));
        return n;
    }
}
