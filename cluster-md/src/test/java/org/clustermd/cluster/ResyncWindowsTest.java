package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.concurrent.atomic.AtomicInteger;
import org.clustermd.dlm.LockValueBlock;
import org.junit.jupiter.api.Test;

/** The peers' window bookkeeping ({@link ResyncWindows}) and the window's value block form ({@link ResyncInfo}). */
class ResyncWindowsTest {
    private final AtomicInteger wakes = new AtomicInteger();
    private final ResyncWindows windows = new ResyncWindows(wakes::incrementAndGet);

    @Test
    void aWindowCoversItsHalfOpenRangeOnly() {
        assertThat(windows.any()).isFalse();
        assertThat(windows.set(1, 100, 200)).isTrue();
        assertThat(windows.any()).isTrue();
        assertThat(windows.overlaps(199, 200)).isTrue();
        assertThat(windows.overlaps(100, 101)).isTrue();
        assertThat(windows.overlaps(0, 101)).isTrue();
        assertThat(windows.overlaps(200, 300)).as("hi is outside").isFalse();
        assertThat(windows.overlaps(0, 100))
                .as("a range ending at lo is outside")
                .isFalse();
        assertThat(wakes.get()).isEqualTo(1);
    }

    @Test
    void aSlotsNextWindowReplacesItsLastAndZeroZeroClearsIt() {
        windows.set(1, 0, 100);
        windows.set(1, 90, 190);
        assertThat(windows.overlaps(0, 90))
                .as("the part the peer finished is free again")
                .isFalse();
        assertThat(windows.overlaps(150, 160)).isTrue();
        assertThat(windows.of(1)).contains(new ResyncWindows.Window(1, 90, 190));
        assertThat(windows.set(1, 0, 0)).isTrue();
        assertThat(windows.any()).isFalse();
        assertThat(windows.of(1)).isEmpty();
        assertThat(wakes.get()).as("every change wakes the writers").isEqualTo(3);
    }

    @Test
    void theSameWindowAgainChangesNothingAndWakesNobody() {
        windows.set(2, 10, 20);
        assertThat(windows.set(2, 10, 20)).isFalse();
        assertThat(windows.clear(3)).as("a slot without a window").isFalse();
        assertThat(wakes.get()).isEqualTo(1);
    }

    @Test
    void slotsKeepTheirOwnWindowsAndADeathClearsOnlyItsOwn() {
        windows.set(0, 0, 100);
        windows.set(2, 1000, 1100);
        assertThat(windows.all()).hasSize(2);
        assertThat(windows.clear(0)).isTrue();
        assertThat(windows.overlaps(0, 100)).isFalse();
        assertThat(windows.overlaps(1000, 1001)).isTrue();
        assertThat(windows.all()).extracting(ResyncWindows.Window::slot).containsExactly(2);
    }

    @Test
    void badWindowsAreRefused() {
        assertThatThrownBy(() -> windows.set(-1, 0, 8)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> windows.set(0, -8, 8)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theValueBlockHoldsLoThenHiLittleEndian() {
        LockValueBlock v = new ResyncInfo(0x0102, 0x0304).toValueBlock(64);
        byte[] b = v.toByteArray();
        assertThat(b).hasSize(64);
        assertThat(b[0]).isEqualTo((byte) 0x02);
        assertThat(b[1]).isEqualTo((byte) 0x01);
        assertThat(b[8]).isEqualTo((byte) 0x04);
        assertThat(b[9]).isEqualTo((byte) 0x03);
        assertThat(ResyncInfo.from(v)).isEqualTo(new ResyncInfo(0x0102, 0x0304));
    }

    @Test
    void zerosAnInvalidValueBlockOrAnEmptyRangeMeanNoWindow() {
        assertThat(ResyncInfo.from(LockValueBlock.zeros(64)).isWindow()).isFalse();
        LockValueBlock written = new ResyncInfo(8, 16).toValueBlock(64);
        assertThat(ResyncInfo.from(written.invalidated())).isEqualTo(ResyncInfo.NONE);
        assertThat(ResyncInfo.from(new ResyncInfo(16, 16).toValueBlock(64))).isEqualTo(ResyncInfo.NONE);
        assertThat(ResyncInfo.from(LockValueBlock.of(new byte[8]))).isEqualTo(ResyncInfo.NONE);
        assertThat(ResyncInfo.from(null)).isEqualTo(ResyncInfo.NONE);
    }
}
