package org.clustermd.raid1;

/**
 * raid1's {@code read_balance}: which leg serves a read.
 * <ul>
 *   <li>When the legs may differ in the range (another node resyncs it or a node failure is
 *       being recovered: {@code areaResyncing(READ)}; or it lies past the point this array knows
 *       to be in sync), the first IN_SYNC leg, so every reader sees the same data.</li>
 *   <li>Otherwise a leg whose last read ended where this one starts (sequential affinity: keeps
 *       a streaming reader on one leg), else the readable leg with the fewest reads in flight.
 *       Write-mostly legs only when no other leg can serve.</li>
 * </ul>
 * A REBUILDING leg serves only reads below its recovery offset.
 *
 * <p>Stateless; thread-safe.
 */
final class ReadBalancer {
    private ReadBalancer() {}

    /** The leg to read {@code [sector, sector + sectors)} from, or null when no leg can. */
    static Mirror choose(MirrorSet set, long sector, long sectors, boolean first) {
        if (first) {
            Mirror[] good = set.inSyncArray();
            return good.length > 0 ? good[0] : null;
        }
        Mirror best = null;
        int bestPending = Integer.MAX_VALUE;
        Mirror fallback = null;
        for (Mirror m : set.mirrors()) {
            if (!m.canRead(sector, sectors)) continue;
            if (m.writeMostly()) {
                if (fallback == null) fallback = m;
                continue;
            }
            if (m.leg().headPosition == sector) return m;
            int p = m.leg().pendingReads.get();
            if (p < bestPending) {
                best = m;
                bestPending = p;
            }
        }
        return best != null ? best : fallback;
    }
}
