package org.clustermd.bitmap;

/**
 * A half-open range of 512-byte sectors {@code [start, end)}, md's {@code (lo, hi)}.
 *
 * <p>Immutable and thread-safe.
 *
 * @param start first sector, inclusive, {@code >= 0}
 * @param end   first sector after the range, {@code >= start}
 */
public record SectorRange(long start, long end) {

    /** The empty range at sector 0 (what md means by {@code lo = hi = 0}). */
    public static final SectorRange EMPTY = new SectorRange(0, 0);

    /** Bytes per sector, md's unit for every range. */
    public static final int SECTOR_SIZE = 512;

    public SectorRange {
        if (start < 0 || end < start) {
            throw new IllegalArgumentException("bad sector range [" + start + ", " + end + ")");
        }
    }

    /** The range of {@code sectors} sectors starting at {@code start}. */
    public static SectorRange of(long start, long sectors) {
        if (sectors < 0) throw new IllegalArgumentException("negative sector count " + sectors);
        return new SectorRange(start, Math.addExact(start, sectors));
    }

    /** Number of sectors in the range. */
    public long sectors() {
        return end - start;
    }

    public boolean isEmpty() {
        return end == start;
    }

    /** True when both ranges share at least one sector ({@code hi > lo' && lo < hi'}, as md tests). */
    public boolean overlaps(SectorRange other) {
        return end > other.start && start < other.end;
    }

    public boolean contains(long sector) {
        return sector >= start && sector < end;
    }

    @Override
    public String toString() {
        return "[" + start + ", " + end + ")";
    }
}
