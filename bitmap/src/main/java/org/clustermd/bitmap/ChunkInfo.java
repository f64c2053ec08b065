package org.clustermd.bitmap;

/**
 * The state of one chunk of our own slot at one moment (for tests, {@code examine} and JMX).
 *
 * <p>Immutable and thread-safe; a snapshot, stale as soon as it is returned.
 *
 * @param chunk         the chunk number
 * @param pendingWrites writes started and not yet ended
 * @param needed        md's NEEDED: the chunk must be resynced
 * @param resyncing     md's RESYNC: a resync of the chunk is running
 * @param bitSet        the bit is set in memory (it is durable, or will be before any write
 *                      that needs it proceeds)
 * @param durable       the bit is set and known to be on disk
 */
public record ChunkInfo(
        int chunk, int pendingWrites, boolean needed, boolean resyncing, boolean bitSet, boolean durable) {}
