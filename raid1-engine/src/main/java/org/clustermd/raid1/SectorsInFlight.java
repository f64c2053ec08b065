package org.clustermd.raid1;

import java.util.concurrent.ConcurrentSkipListSet;

/**
 * The start sectors of a sync pass's requests in flight: the sync thread adds one before it
 * issues a request, the legs' completion threads remove it, and any thread asks for the lowest
 * (md's {@code curr_resync_completed} is below it).
 *
 * <p>Thread-safe.
 */
final class SectorsInFlight {
    private final ConcurrentSkipListSet<Long> starts = new ConcurrentSkipListSet<>();

    void add(long sector) {
        starts.add(sector);
    }

    void remove(long sector) {
        starts.remove(sector);
    }

    /**
     * The lowest start sector in flight, or {@code none} when nothing is in flight. One look at
     * the set: "not empty, then first()" lets the last completion slip in between and throws
     * (issue 9 item 7 killed the survivor's progress thread that way).
     */
    long lowest(long none) {
        Long first = starts.ceiling(Long.MIN_VALUE);
        return first == null ? none : first;
    }
}
