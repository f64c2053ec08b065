package org.clustermd.testkit;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Test time, after Curator's {@code Timing}: a base duration times a multiple times the
 * machine's scale, read once from the system property {@value #SCALE_PROPERTY} (default 1;
 * raise it on a slow machine instead of editing tests). The one place that reads the scale:
 * every wait in every module's tests goes through {@link #scaled}, {@link #seconds},
 * {@link #millis} or a {@code Timing} instance. Tests wait for behaviour with
 * {@link #waitFor}; they never assert how long something took.
 *
 * <pre>{@code
 * Timing timing = new Timing();                      // 10 s x scale
 * timing.waitFor("member 2 sees SUSPENDED", () -> listener.state() == SUSPENDED);
 * Duration session = timing.session();               // a session timeout to ask for
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class Timing {
    /** The system property that scales every duration; surefire passes it from the POM. */
    public static final String SCALE_PROPERTY = "clustermd.timing.scale";

    private static final Duration DEFAULT_BASE = Duration.ofSeconds(10);
    private static final long POLL_MS = 10;
    private static final double SCALE = readScale();

    private final Duration base;

    /** Base 10 s (scaled). */
    public Timing() {
        this(DEFAULT_BASE);
    }

    /** The given base, scaled by {@link #scale()}. */
    public Timing(Duration base) {
        this(base, SCALE);
    }

    private Timing(Duration base, double factor) {
        if (base.isNegative() || base.isZero()) {
            throw new IllegalArgumentException("base must be positive: " + base);
        }
        this.base = Duration.ofNanos(Math.max(1, Math.round(base.toNanos() * factor)));
    }

    private static double readScale() {
        String value = System.getProperty(SCALE_PROPERTY, "1");
        try {
            double s = Double.parseDouble(value.trim());
            if (!(s > 0) || Double.isInfinite(s)) {
                throw new IllegalArgumentException(SCALE_PROPERTY + " must be a positive number, got " + value);
            }
            return s;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(SCALE_PROPERTY + " must be a positive number, got " + value, e);
        }
    }

    /** The machine's scale factor ({@value #SCALE_PROPERTY}, default 1). */
    public static double scale() {
        return SCALE;
    }

    /** {@code d} times the machine's scale. */
    public static Duration scaled(Duration d) {
        return Duration.ofNanos(Math.max(1, Math.round(d.toNanos() * SCALE)));
    }

    /** {@code seconds} seconds times the machine's scale: the upper bound of a wait written in seconds. */
    public static Duration seconds(long seconds) {
        return scaled(Duration.ofSeconds(seconds));
    }

    /** {@code millis} milliseconds times the machine's scale, in milliseconds (for {@code Thread.join} and the like). */
    public static long millis(long millis) {
        return scaled(Duration.ofMillis(millis)).toMillis();
    }

    /** This timing's duration (already scaled). */
    public Duration duration() {
        return base;
    }

    public long milliseconds() {
        return base.toMillis();
    }

    /** {@link #milliseconds()} as an int, for APIs (session timeouts) that take one. */
    public int millisecondsInt() {
        return (int) Math.min(Integer.MAX_VALUE, base.toMillis());
    }

    /** A timing of this duration times {@code factor} (scale not applied twice). */
    public Timing multiple(double factor) {
        if (!(factor > 0)) {
            throw new IllegalArgumentException("factor must be positive: " + factor);
        }
        return new Timing(base, factor);
    }

    /** Twice this duration: for waits on things that take a session timeout plus a bit. */
    public Timing forWaiting() {
        return multiple(2);
    }

    /** A session timeout to ask ZooKeeper for: this duration's half, at least 1 s before scaling. */
    public Duration session() {
        return base.dividedBy(2).compareTo(scaled(Duration.ofSeconds(1))) < 0
                ? scaled(Duration.ofSeconds(1))
                : base.dividedBy(2);
    }

    /** Sleeps a quarter of this duration (to let something that should not happen have its chance). */
    public void sleepABit() throws InterruptedException {
        Thread.sleep(Math.max(1, base.toMillis() / 4));
    }

    /** Waits on {@code latch} for this duration; true if it opened. */
    public boolean await(CountDownLatch latch) throws InterruptedException {
        return latch.await(base.toNanos(), TimeUnit.NANOSECONDS);
    }

    /** {@link #waitFor(String, Callable, Duration)} with this duration as the (already scaled) timeout. */
    public void waitFor(String description, Callable<Boolean> condition) throws InterruptedException {
        await(description, condition, base);
    }

    /**
     * Polls {@code condition} until it returns true, or fails the test with an
     * {@link AssertionError} naming {@code description} once {@code timeout} times the scale
     * has passed. An exception from the condition counts as "not yet" and is attached to the
     * failure.
     */
    public static void waitFor(String description, Callable<Boolean> condition, Duration timeout)
            throws InterruptedException {
        await(description, condition, scaled(timeout));
    }

    private static void await(String description, Callable<Boolean> condition, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Exception last = null;
        while (true) {
            try {
                if (Boolean.TRUE.equals(condition.call())) {
                    return;
                }
            } catch (InterruptedException e) {
                throw e;
            } catch (Exception e) {
                last = e;
            }
            if (System.nanoTime() - deadline >= 0) {
                AssertionError failure = new AssertionError("timed out after " + timeout.toMillis()
                        + " ms waiting for: " + description + (last == null ? "" : " (last error: " + last + ")"));
                if (last != null) {
                    failure.initCause(last);
                }
                throw failure;
            }
            Thread.sleep(POLL_MS);
        }
    }

    @Override
    public String toString() {
        return "Timing[" + base.toMillis() + " ms, scale " + SCALE + "]";
    }
}
