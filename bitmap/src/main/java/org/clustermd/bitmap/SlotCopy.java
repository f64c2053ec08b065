package org.clustermd.bitmap;

/**
 * The result of {@link WriteIntentBitmap#copyFromSlot}: what was found dirty in another
 * node's slot and merged into ours.
 *
 * <p>{@link #foundDirty()} is explicit because md infers "dirty" from {@code hi > 0}, where
 * {@code hi} is the first sector of the last dirty chunk, so a node whose only dirty chunk is
 * chunk 0 looked clean (docs/lessons.md §17).
 *
 * <p>Immutable and thread-safe.
 *
 * @param slot            the slot read
 * @param foundDirty      whether any bit was set
 * @param dirtyChunks     how many bits were set
 * @param firstDirtyChunk the first set bit's chunk, or -1
 * @param lastDirtyChunk  the last set bit's chunk, or -1
 * @param dirtyRange      from the first sector of the first dirty chunk to the end of the last
 *                        (md's {@code lo} is its start), or {@link SectorRange#EMPTY}
 * @param sourceCleared   whether the source slot's bits were cleared on disk
 */
public record SlotCopy(
        int slot,
        boolean foundDirty,
        long dirtyChunks,
        long firstDirtyChunk,
        long lastDirtyChunk,
        SectorRange dirtyRange,
        boolean sourceCleared) {}
