package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.zk.Pending.Kind;
import org.clustermd.dlm.zk.Pending.Phase;
import org.junit.jupiter.api.Test;

/** A request's phase moves only as the engine moves it; any other move is refused where it happens. */
class PendingTest {
    @Test
    void aRequestMovesThroughItsWriteToAGrant() {
        Pending p = new Pending(Kind.CONVERT, LockMode.EX, false, null, null);
        assertThat(p.phase()).isEqualTo(Phase.TO_WRITE);
        p.to(Phase.WRITING);
        p.to(Phase.UNCERTAIN);
        p.to(Phase.QUEUED);
        p.to(Phase.TOKEN_READ);
        assertThat(p.phase()).isEqualTo(Phase.TOKEN_READ);
    }

    @Test
    void aMoveTheEngineNeverMakesIsRefusedAndChangesNothing() {
        Pending p = new Pending(Kind.UNLOCK, null, false, "L_x", LockMode.PR);
        p.to(Phase.WRITING);
        p.to(Phase.QUEUED);
        assertThatThrownBy(() -> p.to(Phase.SYNCING))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("QUEUED -> SYNCING");
        assertThat(p.phase()).isEqualTo(Phase.QUEUED);
        for (Phase from : Phase.values()) {
            assertThat(from.next()).as("no phase moves to itself").doesNotContain(from);
        }
    }
}
