package org.clustermd.bench.storage;

import static org.clustermd.bench.storage.Percentiles.list;
import static org.clustermd.bench.storage.Percentiles.median;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;

/**
 * What the storage suites do the same way with rounds and figures: the per-round details of a
 * paired figure, the {@code --figures} filter, and configuration maps.
 *
 * <p>Stateless and thread-safe.
 */
public final class Rounds {
    private Rounds() {}

    /**
     * Adds both sides' per-round values and the median of the per-round ratios. The two sides
     * of a round ran back to back, so that ratio is less exposed to a disk whose speed drifts
     * between rounds than the ratio of the medians the figure reports.
     */
    public static Figure paired(Figure f, double[] ours, double[] peer) {
        double[] ratios = new double[ours.length];
        for (int i = 0; i < ours.length; i++) ratios[i] = ours[i] / peer[i];
        return f.with("rounds", ours.length)
                .with("ours_per_round", list(ours))
                .with("peer_per_round", list(peer))
                .with("ratio_per_round", list(ratios))
                .with("median_of_round_ratios", median(ratios));
    }

    /** {@code --figures P1,P4}: whether {@code figure} should run (all run without the option). */
    public static boolean wanted(BenchOptions o, String figure) {
        String f = o.string("figures", "");
        if (f.isEmpty()) return true;
        for (String x : f.split(",")) {
            if (x.trim().equalsIgnoreCase(figure)) return true;
        }
        return false;
    }

    /** A copy of {@code base} with the key/value pairs {@code kv} added. */
    public static Map<String, Object> with(Map<String, Object> base, Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>(base);
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    /** {@code values} as a list, for a figure's details. */
    public static List<Long> longs(long[] values) {
        return java.util.Arrays.stream(values).boxed().toList();
    }
}
