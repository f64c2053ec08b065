package org.clustermd.bitmap;

/**
 * One slot as {@code mdadm --examine-bitmap} reports it: its superblock and how many of its
 * bits are set, counted over the slot's own {@code sync_size / chunksize} bits as mdadm counts.
 *
 * <p>Immutable and thread-safe.
 *
 * @param slot        the slot number
 * @param superblock  the slot's superblock
 * @param chunks      the number of bits (mdadm: "N bits (chunks)")
 * @param dirtyChunks how many are set (mdadm: "M dirty")
 */
public record SlotSummary(int slot, BitmapSuperblock superblock, long chunks, long dirtyChunks) {}
