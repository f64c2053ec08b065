package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.admin.CreateOptions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sync the lock manager refuses its resync lock (the session in doubt) is interrupted, not
 * failed: md's resync_start failing skips the pass, and the next md_check_recovery tries again.
 * Taken for a failure it stopped every later sync, so a survivor whose session was suspended
 * for a moment never resynced the dead node's bits it then recovered (PausedNodeTest under
 * load; docs/lessons.md §37). No pass starts while I/O is held for the session; releasing the
 * hold starts it.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterRefusedSyncTest {
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() {
        if (legs != null) legs.close();
    }

    @Test
    void aResyncRefusedByTheClusterRunsWhenTheSessionHoldEnds() throws Exception {
        legs = new TestLegs(dir, 2, 16L << 20)
                .create(CreateOptions.builder("md-refused").bitmapChunk(1 << 20).build());
        RecordingClusterOperations ops = new RecordingClusterOperations(new AtomicLong());
        ops.refuseResyncStarts.set(1);
        Raid1Array a = legs.track(Raid1Array.assemble(
                legs.open(), ArrayOptions.builder().cluster(ops).build()));

        long deadline = System.nanoTime() + WAIT.toNanos();
        while (a.lastSync().isEmpty() && System.nanoTime() - deadline < 0) Thread.sleep(5);
        a.holdForSession(); // the session is suspended (in a cluster it comes with the refusal)
        SyncReport refused = a.lastSync().orElseThrow();
        assertThat(refused.completed()).isFalse();
        assertThat(refused.failure()).as("an interruption, not a failure").isNull();
        assertThat(a.syncControl().syncDisabled()).isEmpty();

        // the md thread looks for work, by its timer and when asked, but starts no pass while held
        a.requestRecovery();
        Thread.sleep(1500);
        assertThat(ops.calls.stream().filter(c -> c.method().equals("resyncStart")))
                .as("no pass while held: %s", ops.calls)
                .hasSize(1);

        a.releaseSessionHold();
        SyncReport done = awaitCompleted(a);
        assertThat(done.completed()).isTrue();
        assertThat(a.recoveryCp()).isEqualTo(Mddev.MAX_SECTOR);
        a.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    /**
     * The retry after refusals in a row waits 1 s, doubled at each one, at most 30 s
     * (docs/lessons.md §37): a peer that keeps refusing is not asked every second.
     */
    @Test
    void theRetryAfterRefusalsInARowWaitsOneSecondDoubledUpToThirtySeconds() {
        long[] seconds = new long[9];
        for (int n = 1; n <= 8; n++) seconds[n] = TimeUnit.NANOSECONDS.toSeconds(RefusalBackoff.retryAfter(n));
        assertThat(seconds).containsExactly(0, 1, 2, 4, 8, 16, 30, 30, 30);
        assertThat(RefusalBackoff.retryAfter(Integer.MAX_VALUE)).isEqualTo(TimeUnit.SECONDS.toNanos(30));
    }

    /** Refusals in a row count up (the backoff's exponent) and a pass that ran resets them. */
    @Test
    void refusalsInARowCountUpAndAPassThatRanResetsThem() throws Exception {
        legs = new TestLegs(dir, 2, 16L << 20)
                .create(CreateOptions.builder("md-refused2")
                        .bitmapChunk(1 << 20)
                        .build());
        RecordingClusterOperations ops = new RecordingClusterOperations(new AtomicLong());
        ops.refuseResyncStarts.set(2);
        Raid1Array a = legs.track(Raid1Array.assemble(
                legs.open(), ArrayOptions.builder().cluster(ops).build()));
        long deadline = System.nanoTime() + WAIT.toNanos();
        int seen = 0;
        while (System.nanoTime() - deadline < 0 && seen < 2) {
            seen = Math.max(seen, a.syncControl().refusalsInARow());
            Thread.sleep(5);
        }
        assertThat(seen).as("two refusals in a row").isEqualTo(2);
        SyncReport done = awaitCompleted(a);
        assertThat(done.completed()).isTrue();
        assertThat(a.syncControl().refusalsInARow())
                .as("reset by the pass that ran")
                .isZero();
        a.close();
        assertThat(legs.compare().identical()).isTrue();
    }

    private static SyncReport awaitCompleted(Raid1Array a) throws Exception {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (System.nanoTime() - deadline < 0) {
            SyncReport r = a.awaitSyncIdle(WAIT).orElseThrow();
            if (r.completed()) return r;
            Thread.sleep(20);
        }
        return a.lastSync().orElseThrow();
    }
}
