package org.clustermd.raid1;

/**
 * What one pass of the sync thread did (for statistics, tests and benchmarks).
 *
 * <p>Immutable; thread-safe.
 *
 * @param action the pass's action
 * @param startSector where it started
 * @param endSector where it stopped (the end of its range when completed)
 * @param completed whether it covered its whole range (false: interrupted or failed)
 * @param sectorsCopied sectors read from a source leg and written to at least one other leg
 *     (resync, recover, repair); bitmap-skipped chunks do not count
 * @param sectorsChecked sectors compared across legs (check, repair)
 * @param mismatches sectors found different (check, repair: md's mismatch_cnt contribution)
 * @param nanos wall time of the pass
 * @param failure why it stopped early, or null
 */
public record SyncReport(
        SyncAction action,
        long startSector,
        long endSector,
        boolean completed,
        long sectorsCopied,
        long sectorsChecked,
        long mismatches,
        long nanos,
        String failure) {

    /** Bytes copied: {@code sectorsCopied * 512}. */
    public long bytesCopied() {
        return sectorsCopied * 512;
    }
}
