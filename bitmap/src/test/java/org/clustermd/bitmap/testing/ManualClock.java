package org.clustermd.bitmap.testing;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.bitmap.BitmapClock;

/** A {@link BitmapClock} that moves only when told to. Thread-safe. */
public final class ManualClock implements BitmapClock {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);

    @Override
    public long nanoTime() {
        return now.get();
    }

    public void advance(Duration d) {
        now.addAndGet(d.toNanos());
    }

    public void advanceMillis(long millis) {
        now.addAndGet(millis * 1_000_000L);
    }

    /** Milliseconds since the clock was made. */
    public long millis() {
        return (now.get() - 1_000_000_000L) / 1_000_000L;
    }
}
