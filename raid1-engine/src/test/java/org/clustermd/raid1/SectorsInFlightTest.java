package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/**
 * Issue 9 item 7: the survivor's sync-progress thread died of a NoSuchElementException because
 * the lowest sector in flight was read as "not empty, then first()", and the last request
 * completed in between. Asking while the set empties and fills again must never throw.
 */
class SectorsInFlightTest {
    private static final int ROUNDS = 2_000_000;

    @Test
    void askingForTheLowestWhileTheLastRequestCompletesNeverThrows() throws Exception {
        SectorsInFlight inFlight = new SectorsInFlight();
        AtomicBoolean done = new AtomicBoolean();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread reader = new Thread(
                () -> {
                    try {
                        while (!done.get()) {
                            long low = inFlight.lowest(Long.MAX_VALUE);
                            if (low != Long.MAX_VALUE && low != 8)
                                throw new AssertionError("lowest " + low + " was never in flight");
                        }
                    } catch (Throwable t) {
                        failure.set(t);
                    }
                },
                "sync-progress-reader");
        reader.start();
        try {
            for (int i = 0; i < ROUNDS && failure.get() == null; i++) {
                inFlight.add(8);
                inFlight.remove(8);
            }
        } finally {
            done.set(true);
            reader.join();
        }
        assertThat(failure.get()).as("what the reader threw").isNull();
    }
}
