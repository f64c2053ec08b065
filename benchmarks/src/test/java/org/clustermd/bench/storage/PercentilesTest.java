package org.clustermd.bench.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PercentilesTest {
    @Test
    void nearestRankOnHundredSamples() {
        long[] v = new long[100];
        for (int i = 0; i < 100; i++) v[i] = 100 - i; // 1..100, reversed
        assertThat(Percentiles.percentile(v, 100, 99)).isEqualTo(99);
        assertThat(Percentiles.percentile(v, 100, 50)).isEqualTo(50);
        assertThat(Percentiles.percentile(v, 100, 100)).isEqualTo(100);
        assertThat(Percentiles.percentile(v, 100, 0.5)).isEqualTo(1);
    }

    @Test
    void onlyTheCountedPrefixIsUsed() {
        long[] v = {5, 1, 3, 1000, 1000};
        assertThat(Percentiles.percentile(v, 3, 100)).isEqualTo(5);
        assertThat(Percentiles.percentile(v, 3, 50)).isEqualTo(3);
    }

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 42, 1234})
    void aPercentileIsAnObservedSampleWithEnoughBelowIt(long seed) {
        Random r = new Random(seed);
        int n = 1 + r.nextInt(5000);
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt(1_000_000);
        long[] sorted = v.clone();
        Arrays.sort(sorted);
        double p = 1 + r.nextInt(99);
        long x = Percentiles.percentile(v.clone(), n, p);
        long atOrBelow = Arrays.stream(sorted).filter(s -> s <= x).count();
        long below = Arrays.stream(sorted).filter(s -> s < x).count();
        assertThat(Arrays.binarySearch(sorted, x)).as("seed %d: observed", seed).isGreaterThanOrEqualTo(0);
        assertThat(atOrBelow).as("seed %d: at least p%% at or below", seed).isGreaterThanOrEqualTo((long)
                Math.ceil(p / 100 * n));
        assertThat(below).as("seed %d: fewer than p%% strictly below", seed).isLessThan((long) Math.ceil(p / 100 * n));
    }

    @Test
    void medianOfOddAndEvenCounts() {
        assertThat(Percentiles.median(new double[] {3, 1, 2})).isEqualTo(2);
        assertThat(Percentiles.median(new double[] {4, 1, 3, 2})).isEqualTo(2.5);
        double[] in = {9, 8, 7};
        Percentiles.median(in);
        assertThat(in).as("input untouched").containsExactly(9, 8, 7);
    }

    @Test
    void emptyInputAndBadPercentilesAreRefused() {
        assertThatThrownBy(() -> Percentiles.percentile(new long[3], 0, 50))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Percentiles.percentile(new long[3], 3, 0))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Percentiles.percentile(new long[3], 3, 101))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Percentiles.median(new double[0])).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void latencySamplesGrowAndReportMicroseconds() {
        LatencySamples s = new LatencySamples();
        for (int i = 1; i <= 100_000; i++) s.add(i * 1000L);
        assertThat(s.count()).isEqualTo(100_000);
        assertThat(s.percentileMicros(99)).isEqualTo(99_000);
        assertThat(s.meanMicros()).isEqualTo(50_000.5);
    }
}
