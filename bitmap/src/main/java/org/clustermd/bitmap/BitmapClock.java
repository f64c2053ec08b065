package org.clustermd.bitmap;

/**
 * The time source of a bitmap: lazy clearing and {@link WriteIntentBitmap#condEndSync} count
 * {@code daemon_sleep} periods on it. Production uses {@link #SYSTEM}; tests inject a clock they
 * advance by hand, so no test needs to sleep.
 *
 * <p>Implementations must be thread-safe: the flush daemon and writer threads read it
 * concurrently.
 */
@FunctionalInterface
public interface BitmapClock {

    /** {@link System#nanoTime()}. */
    BitmapClock SYSTEM = System::nanoTime;

    /** A monotonic time in nanoseconds (only differences are meaningful). */
    long nanoTime();
}
