package org.clustermd.bench.storage;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Percentile and median arithmetic for the figures. Percentiles use the nearest-rank method
 * (the smallest sample with at least {@code p}% of the samples at or below it), so a p99 is
 * always a latency that was actually observed.
 *
 * <p>Stateless and thread-safe.
 */
public final class Percentiles {
    private Percentiles() {}

    /**
     * The nearest-rank {@code p}-th percentile of {@code samples[0..count)} (the array is sorted
     * in that range as a side effect).
     *
     * @throws IllegalArgumentException if {@code count} is 0 or {@code p} is outside (0, 100]
     */
    public static long percentile(long[] samples, int count, double p) {
        if (count <= 0 || count > samples.length)
            throw new IllegalArgumentException("no samples (count " + count + ")");
        if (!(p > 0 && p <= 100)) throw new IllegalArgumentException("percentile must be in (0, 100]: " + p);
        Arrays.sort(samples, 0, count);
        int rank = (int) Math.ceil(p / 100.0 * count);
        return samples[Math.max(rank, 1) - 1];
    }

    /** The median of {@code values}: the middle one, or the mean of the two middle ones. */
    public static double median(double[] values) {
        if (values.length == 0) throw new IllegalArgumentException("no values");
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** {@code values} as a list, for a figure's per-round details. */
    public static List<Double> list(double[] values) {
        List<Double> out = new ArrayList<>(values.length);
        for (double v : values) out.add(v);
        return out;
    }
}
