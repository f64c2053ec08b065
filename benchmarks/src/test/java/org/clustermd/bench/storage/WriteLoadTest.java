package org.clustermd.bench.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.nio.file.Path;
import java.time.Duration;
import org.clustermd.bench.BenchOptions;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.BitmapMode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * P1's lanes reap their own writes on the submitting thread ({@code AioPoller}), so a write that
 * may block must not run there: nobody else reaps that thread's requests, and the blocking
 * path waits for storage writes it issued itself (a new bitmap bit's flush). Here no bit is set
 * before the run, so the first write of every chunk takes that path; issued on the submitting
 * thread, it would wait forever (the timeout abandons the stuck run).
 */
class WriteLoadTest {
    private static final Duration WAIT = Duration.ofSeconds(120);

    @TempDir
    Path dir;

    @Test
    void queuedRandomWritesWhoseBitsAreNotSetYetStillComplete() throws Exception {
        BenchOptions o =
                BenchOptions.parse(new String[] {"--dir", dir.toString(), "--size", "32M", "--bitmap-chunk", "1M"}, 0);
        try (LegFiles legs = LegFiles.create(o, "writeload", 2);
                Raid1Array a = legs.array(BitmapMode.CLUSTERED, true, ArrayOptions.defaults())) {
            long flushesBefore = a.bitmap().orElseThrow().stats().storageFlushes();
            WriteLoad.Throughput t = assertTimeoutPreemptively(WAIT, () -> WriteLoad.randomQueued(a, 32, 4096, 0.5));
            assertThat(t.ops()).isPositive();
            // the bits were set during the run: some writes did take the blocking path
            assertThat(a.bitmap().orElseThrow().stats().storageFlushes()).isGreaterThan(flushesBefore);
            assertThat(a.bitmap().orElseThrow().dirtyChunks()).isPositive();
        }
    }
}
