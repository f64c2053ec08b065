package org.clustermd.bitmap;

/**
 * The answer of {@link WriteIntentBitmap#startSync}: md's {@code (return value, *blocks)}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param sector    the sector asked about
 * @param sectors   how many sectors from {@code sector} this answer covers (to the end of the
 *                  chunk, or of several chunks when chunks are smaller than 4 KiB, as md does)
 * @param needsSync whether those sectors must be resynced
 */
public record SyncChunk(long sector, long sectors, boolean needsSync) {

    /** The range this answer covers. */
    public SectorRange range() {
        return SectorRange.of(sector, sectors);
    }
}
