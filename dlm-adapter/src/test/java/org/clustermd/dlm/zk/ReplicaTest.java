package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The re-read bookkeeping: current only after every answer of a read that did not fail. */
class ReplicaTest {
    @Test
    void aReadIsCurrentAfterItsLastAnswerAndHandsOverWhatWaitedForIt() {
        Replica r = new Replica();
        assertThat(r.current()).isTrue();
        List<String> ran = new ArrayList<>();
        r.afterRead(() -> ran.add("joined"));
        r.start(Map.of(0, 7L), 2);
        r.expect(); // a resource found by the read
        assertThat(r.current()).isFalse();
        assertThat(r.reading()).isTrue();
        assertThat(r.answered(true)).isFalse();
        assertThat(r.answered(true)).isFalse();
        assertThat(r.answered(true)).isTrue();
        assertThat(r.current()).isTrue();
        assertThat(r.membersBefore()).isEqualTo(Map.of(0, 7L));
        r.takeAfterRead().forEach(Runnable::run);
        assertThat(ran).containsExactly("joined");
        assertThat(r.takeAfterRead()).isEmpty();
    }

    @Test
    void aFailedAnswerAbandonsTheReadAndItsLateAnswersCountForNothing() {
        Replica r = new Replica();
        r.start(Map.of(), 3);
        assertThat(r.answered(false)).isFalse();
        assertThat(r.phase()).isEqualTo(Replica.Phase.ABANDONED);
        assertThat(r.reading()).as("a new read must be started").isFalse();
        r.expect();
        assertThat(r.answered(true)).isFalse();
        assertThat(r.answered(true)).isFalse();
        assertThat(r.answered(true)).isFalse();
        assertThat(r.current())
                .as("an abandoned read never makes the replica current")
                .isFalse();
        r.start(Map.of(), 1);
        assertThat(r.answered(true)).isTrue();
        assertThat(r.current()).isTrue();
    }
}
