package org.clustermd.bitmap;

/**
 * The sizes other slots record, for a cluster-wide resize (md's {@code cluster_check_sync_size}):
 * read any slot's {@code sync_size}, and rewrite a free slot for a new size. Both work on the
 * area the given node's bitmap was opened on, through its storage.
 *
 * <p>Stateless and thread-safe. Rewriting a slot a live node owns is the caller's mistake to
 * avoid: it holds that slot's bitmap lock first, as md does.
 */
public final class SlotSizes {
    private SlotSizes() {}

    /**
     * The {@code sync_size} slot {@code slot}'s superblock records, in sectors.
     *
     * @throws BitmapException SLOT_RANGE, FORMAT for a slot that is not a bitmap of this array,
     *     STORAGE
     */
    public static long syncSize(WriteIntentBitmap bitmap, int slot) throws BitmapException {
        return bitmap.area().examine(slot).superblock().syncSize();
    }

    /**
     * Rewrites free slot {@code slot} for {@code sectors} ({@link BitmapArea#resizeSlot}): its
     * bits are kept, those beyond the new end cleared. Only for sizes that keep the slot stride.
     *
     * @throws BitmapException GEOMETRY when the stride would change, SLOT_RANGE, FORMAT, STORAGE
     */
    public static void resizeFree(WriteIntentBitmap bitmap, int slot, long sectors) throws BitmapException {
        if (slot == bitmap.slot()) {
            throw new BitmapException(
                    BitmapException.Code.SLOT_RANGE, bitmap.where() + ": slot " + slot + " is ours, not free");
        }
        bitmap.area().resizeSlot(slot, sectors);
    }
}
