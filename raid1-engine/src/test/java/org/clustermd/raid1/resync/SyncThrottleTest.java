package org.clustermd.raid1.resync;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class SyncThrottleTest {
    private final AtomicLong now = new AtomicLong(1_000_000_000L);
    private final SyncThrottle throttle = new SyncThrottle(now::get);

    private void advanceMillis(long ms) {
        now.addAndGet(TimeUnit.MILLISECONDS.toNanos(ms));
    }

    @Test
    void belowTheMinimumTheSyncNeverYields() {
        throttle.speedMin(10_000);
        advanceMillis(1000);
        throttle.account(2 * 5_000); // 5000 KiB in 1 s
        assertThat(throttle.decide(false)).isEqualTo(SyncThrottle.Decision.GO);
    }

    @Test
    void betweenTheLimitsItYieldsOnlyToForegroundIo() {
        throttle.speedMin(1_000);
        throttle.speedMax(100_000);
        advanceMillis(1000);
        throttle.account(2 * 50_000);
        assertThat(throttle.decide(true)).isEqualTo(SyncThrottle.Decision.GO);
        assertThat(throttle.decide(false)).isEqualTo(SyncThrottle.Decision.YIELD);
        assertThat(throttle.currentSpeed()).isBetween(49_000L, 51_000L);
    }

    @Test
    void aboveTheMaximumItSleepsJustLongEnough() {
        throttle.speedMax(1_000);
        advanceMillis(1000);
        throttle.account(2 * 1_200); // 1200 KiB in 1 s at a 1000 KiB/s limit: 200 ms too fast
        assertThat(throttle.decide(true)).isEqualTo(SyncThrottle.Decision.SLEEP);
        assertThat(TimeUnit.NANOSECONDS.toMillis(throttle.sleepNanos())).isBetween(150L, 250L);
        advanceMillis(TimeUnit.NANOSECONDS.toMillis(throttle.sleepNanos()) + 5);
        assertThat(throttle.decide(true)).isEqualTo(SyncThrottle.Decision.GO);
    }

    @Test
    void whileAPeerIsBusyItSleepsDownToTheMinimumEvenWhenThisNodeIsIdle() {
        throttle.speedMin(1_000);
        throttle.speedMax(100_000);
        advanceMillis(1000);
        throttle.account(2 * 1_500); // 1500 KiB in 1 s: between the limits, 500 ms above the minimum
        assertThat(throttle.decide(true, false)).isEqualTo(SyncThrottle.Decision.GO);
        assertThat(throttle.decide(true, true)).isEqualTo(SyncThrottle.Decision.SLEEP);
        assertThat(TimeUnit.NANOSECONDS.toMillis(throttle.sleepNanos())).isBetween(450L, 500L);
        advanceMillis(TimeUnit.NANOSECONDS.toMillis(throttle.sleepNanos()) + 5);
        assertThat(throttle.decide(true, true)).isEqualTo(SyncThrottle.Decision.GO);
    }

    @Test
    void aPassThatWasPausedHasNoCreditToBurstIntoABusyPeersWrites() {
        throttle.speedMin(1_000);
        for (int i = 0; i < 2 * SyncThrottle.MARKS; i++) { // 10 s paused: no I/O, the marks move on
            advanceMillis(500);
            throttle.decide(true, true);
        }
        throttle.account(2 * 2_048); // then a 2 MiB burst: 2048 KiB over the 5 s window is below the minimum
        assertThat(throttle.decide(true, false)).isEqualTo(SyncThrottle.Decision.GO);
        assertThat(throttle.decide(true, true)).isEqualTo(SyncThrottle.Decision.SLEEP);
    }

    @Test
    void aPeerBusyWithAZeroMinimumStopsTheSyncInBoundedSleeps() {
        throttle.speedMin(0);
        advanceMillis(1000);
        throttle.account(2);
        assertThat(throttle.decide(true, true)).isEqualTo(SyncThrottle.Decision.SLEEP);
        assertThat(throttle.sleepNanos()).isEqualTo(SyncThrottle.MAX_SLEEP_NANOS);
    }

    @Test
    void theWindowForgetsOldProgress() {
        throttle.speedMax(1_000);
        advanceMillis(100);
        throttle.account(2 * 100_000); // a burst long ago
        assertThat(throttle.decide(true)).isEqualTo(SyncThrottle.Decision.SLEEP);
        for (int i = 0; i < 2 * SyncThrottle.MARKS + 2; i++) {
            advanceMillis(600);
            throttle.decide(true);
        }
        assertThat(throttle.decide(true)).isEqualTo(SyncThrottle.Decision.GO);
    }

    @Test
    void limitsRejectNonsense() {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> throttle.speedMax(0))
                .isInstanceOf(IllegalArgumentException.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> throttle.speedMin(-1))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
