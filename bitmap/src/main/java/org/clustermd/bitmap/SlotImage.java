package org.clustermd.bitmap;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.BitSet;
import org.clustermd.bitmap.storage.SuperblockCodec;

/**
 * The in-memory copy of one slot as it should be on disk (md's {@code filemap} pages): the
 * superblock, the bits, the padding to the 4 KiB stride, and which pages differ from disk.
 *
 * <p>Writes never go out from this array: {@link #snapshot} copies the dirty pages into the
 * round's own buffer, so a page can be changed again while its previous content is being
 * written (docs/lessons.md §29).
 *
 * <p>Not thread-safe: guarded by the bitmap's lock.
 */
final class SlotImage {
    /** Pages closer than this are written as one run (one storage write). */
    private static final int MAX_GAP_PAGES = 8;

    private final BitmapGeometry geometry;
    private final byte[] bytes;
    private final BitSet dirtyPages;

    SlotImage(BitmapGeometry geometry, ByteBuffer slotBytes) {
        this.geometry = geometry;
        this.bytes = new byte[(int) geometry.stride()];
        if (slotBytes != null) slotBytes.duplicate().clear().get(bytes);
        this.dirtyPages = new BitSet(geometry.pages());
    }

    BitmapGeometry geometry() {
        return geometry;
    }

    boolean testBit(long chunk) {
        return (bytes[(int) BitmapGeometry.bitByte(chunk)] & (1 << BitmapGeometry.bitInByte(chunk))) != 0;
    }

    void setBit(long chunk) {
        bytes[(int) BitmapGeometry.bitByte(chunk)] |= (byte) (1 << BitmapGeometry.bitInByte(chunk));
        dirtyPages.set(BitmapGeometry.pageOf(chunk));
    }

    void clearBit(long chunk) {
        bytes[(int) BitmapGeometry.bitByte(chunk)] &= (byte) ~(1 << BitmapGeometry.bitInByte(chunk));
        dirtyPages.set(BitmapGeometry.pageOf(chunk));
    }

    void putSuperblock(BitmapSuperblock sb) {
        SuperblockCodec.encode(sb, ByteBuffer.wrap(bytes), 0);
        dirtyPages.set(0);
    }

    void markAllDirty() {
        dirtyPages.set(0, geometry.pages());
    }

    boolean hasDirtyPages() {
        return !dirtyPages.isEmpty();
    }

    /**
     * Copies the dirty pages into {@code buf} (at their own offsets), clears their dirty marks
     * and returns the runs to write as {@code [firstPage, lastPage]} pairs.
     */
    int[] snapshot(ByteBuffer buf) {
        int[] runs = new int[8];
        int n = 0;
        int p = dirtyPages.nextSetBit(0);
        while (p >= 0) {
            int first = p;
            int last = p;
            int next = dirtyPages.nextSetBit(p + 1);
            while (next >= 0 && next - last <= MAX_GAP_PAGES) {
                last = next;
                next = dirtyPages.nextSetBit(next + 1);
            }
            if (n + 2 > runs.length) runs = Arrays.copyOf(runs, runs.length * 2);
            runs[n++] = first;
            runs[n++] = last;
            int from = first * BitmapGeometry.PAGE_SIZE;
            int len = (last - first + 1) * BitmapGeometry.PAGE_SIZE;
            buf.put(from, bytes, from, len);
            p = next;
        }
        dirtyPages.clear();
        return Arrays.copyOf(runs, n);
    }

    /** After a failed write: the pages are again different from disk. */
    void remarkDirty(int[] runs) {
        for (int i = 0; i < runs.length; i += 2) dirtyPages.set(runs[i], runs[i + 1] + 1);
    }
}
