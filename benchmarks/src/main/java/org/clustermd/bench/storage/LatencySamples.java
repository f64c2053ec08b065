package org.clustermd.bench.storage;

import java.util.Arrays;

/**
 * A growable array of latency samples in nanoseconds, cheap enough to record one sample per
 * 4 KiB write without boxing.
 *
 * <p>Not thread-safe: one recording thread.
 */
public final class LatencySamples {
    private long[] samples = new long[1 << 14];
    private int count;

    public void add(long nanos) {
        if (count == samples.length) samples = Arrays.copyOf(samples, samples.length * 2);
        samples[count++] = nanos;
    }

    public int count() {
        return count;
    }

    /** The nearest-rank percentile, microseconds ({@link Percentiles#percentile}). */
    public double percentileMicros(double p) {
        return Percentiles.percentile(samples, count, p) / 1000.0;
    }

    /** The mean, microseconds. */
    public double meanMicros() {
        if (count == 0) throw new IllegalArgumentException("no samples");
        double sum = 0;
        for (int i = 0; i < count; i++) sum += samples[i];
        return sum / count / 1000.0;
    }
}
