package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The lease rule alone, on a clock the test moves (SessionHealthTest runs the real thing). With
 * T = 12000: a lease lasts 10000 after a confirmed probe's send, and a sync confirms the probes
 * answered at least 4000 before it was sent.
 */
class LeaseTest {
    private static final long T = 12_000;
    private static final long SESSION = 0x42;
    private static final long BASE = 1_000_000;
    private final AtomicLong now = new AtomicLong(BASE);
    private final Lease lease = new Lease(now::get);

    private static long at(long offset) {
        return BASE + offset;
    }

    private void moveTo(long offset) {
        now.set(at(offset));
    }

    /** A request sent at {@code sent} and answered now. */
    private boolean answered(long sent, boolean sync) {
        return lease.answered(SESSION, at(sent), T, sync);
    }

    @Test
    void theFirstLeaseRunsFromBeforeTheConnect() {
        lease.startBeforeConnect(SESSION, at(0), T);
        assertThat(lease.valid()).isTrue();
        assertThat(lease.deadline()).isEqualTo(at(10_000));
        moveTo(9_999);
        assertThat(lease.valid()).isTrue();
        moveTo(10_000);
        assertThat(lease.valid()).isFalse();
    }

    @Test
    void anAnsweredRequestCountsOnlyOnceASyncSentAMarginAfterItsAnswerIsAnswered() {
        moveTo(100);
        assertThat(answered(0, false)).isFalse(); // a probe: sent at 0, answered at 100
        assertThat(lease.valid()).as("an answer alone proves nothing").isFalse();
        moveTo(3_000);
        // sent less than 4000 after the probe's answer: the probe's touch may still be on its way
        assertThat(answered(2_900, true)).isFalse();
        assertThat(lease.valid()).isFalse();
        moveTo(4_200);
        assertThat(answered(4_100, true)).isTrue();
        assertThat(lease.valid()).isTrue();
        assertThat(lease.deadline()).as("from the probe's send").isEqualTo(at(10_000));
        // the sync at 2900 (answered at 3000) is confirmed by one sent at 7000 or later
        moveTo(6_950);
        assertThat(answered(6_900, true)).isFalse();
        moveTo(7_050);
        assertThat(answered(7_000, true)).isTrue();
        assertThat(lease.deadline()).isEqualTo(at(12_900));
    }

    @Test
    void aLateAnswerToAnOldRequestNeverMovesTheDeadlineBeyondItsSendTimeAndNeverBack() {
        lease.startBeforeConnect(SESSION, at(0), T);
        moveTo(8_000);
        // held in a one-way cut for 7000, then answered: its lease would have ended at 11000
        assertThat(answered(1_000, false)).isFalse();
        moveTo(12_500);
        assertThat(lease.valid()).isFalse();
        assertThat(answered(12_400, true)).isTrue();
        assertThat(lease.deadline()).isEqualTo(at(11_000));
        assertThat(lease.valid())
                .as("a confirmation that comes too late leaves the lease lapsed")
                .isFalse();
        moveTo(16_600);
        assertThat(answered(16_500, true)).isTrue();
        assertThat(lease.deadline()).isEqualTo(at(22_400));
        moveTo(16_700);
        assertThat(answered(16_600, true)).isFalse();
        assertThat(lease.deadline()).isEqualTo(at(22_400));
    }

    @Test
    void aNewSessionOwesNothingToTheOldOnesLease() {
        lease.startBeforeConnect(SESSION, at(0), T);
        moveTo(1_000);
        assertThat(lease.answered(SESSION + 1, at(900), T, false)).isFalse();
        assertThat(lease.valid()).isFalse();
        assertThat(lease.session()).isEqualTo(SESSION + 1);
    }
}
