package org.clustermd.bitmap;

import java.util.concurrent.atomic.AtomicLong;

/** The live counters behind {@link BitmapStats}. Thread-safe. */
final class IoCounters {
    final AtomicLong rounds = new AtomicLong();
    final AtomicLong writes = new AtomicLong();
    final AtomicLong flushes = new AtomicLong();
    final AtomicLong bytes = new AtomicLong();
    final AtomicLong bitsSet = new AtomicLong();
    final AtomicLong bitsCleared = new AtomicLong();
    final AtomicLong failedRounds = new AtomicLong();

    BitmapStats snapshot() {
        return new BitmapStats(
                rounds.get(),
                writes.get(),
                flushes.get(),
                bytes.get(),
                bitsSet.get(),
                bitsCleared.get(),
                failedRounds.get());
    }
}
