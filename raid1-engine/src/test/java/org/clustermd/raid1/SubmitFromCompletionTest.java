package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.raid1.io.IoEngine;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A caller that submits the next request from the completion of the last one (an NBD server,
 * fio-style loops) runs on the engine's completion threads. Such a request must neither
 * deadlock nor fail: a write that needs a new bitmap bit waits for the bit's flush, which the
 * same reaper thread has to complete. Before the hand-off to {@code md-submit}, the first
 * chained write to a new chunk hung here for good (the bitmap's flush waits without a bound), so the
 * tests carry a timeout that abandons the stuck thread.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SubmitFromCompletionTest {
    private static final long CHUNK = 1 << 20;
    private static final int CHUNKS = 40;
    private static final long WAIT_SECONDS = Timing.seconds(60).toSeconds();

    @TempDir
    Path dir;

    private TestLegs legs;

    @AfterEach
    void tearDown() {
        if (legs != null) legs.close();
    }

    private Raid1Array array(IoEngine engine) throws Exception {
        assumeTrue(engine != IoEngine.AIO || BlockDevices.aioAvailable(), "libaio is not available here");
        legs = new TestLegs(dir, 2, 48L << 20)
                .create(CreateOptions.builder("md-chain")
                        .assumeClean(true)
                        .bitmapChunk(CHUNK)
                        .build());
        List<BlockDevice> devices = new ArrayList<>();
        for (Path p : legs.paths)
            devices.add(BlockDevices.open(p, BlockDeviceOptions.defaults().withEngine(engine)));
        // a short I/O wait, so that a regression fails in seconds instead of hanging the suite
        return legs.track(Raid1Array.assemble(
                devices, ArrayOptions.builder().ioWait(Duration.ofSeconds(10)).build()));
    }

    private static ByteBuffer block(int stamp) {
        ByteBuffer b = AlignedBuffers.allocate(4096);
        for (int i = 0; i < 4096; i += 4) b.putInt(i, stamp);
        return b;
    }

    @ParameterizedTest
    @EnumSource(IoEngine.class)
    void writesChainedFromCompletionsThatEachNeedANewBitmapBitAllComplete(IoEngine engine) throws Exception {
        Raid1Array a = array(engine);
        AtomicInteger onEngineThreads = new AtomicInteger();
        long bitsBefore = a.bitmap().orElseThrow().stats().bitsSet();
        CompletableFuture<Void> chain = CompletableFuture.completedFuture(null);
        for (int i = 0; i < CHUNKS; i++) {
            int n = i;
            // thenCompose runs the next submission on the thread that completed the last write
            chain = chain.thenCompose(v -> {
                if (EngineThread.current()) onEngineThreads.incrementAndGet();
                return a.writeAsync(n * CHUNK, block(n));
            });
        }
        chain.get(WAIT_SECONDS, TimeUnit.SECONDS);

        assertThat(onEngineThreads.get())
                .as("submissions made on completion threads")
                .isGreaterThan(CHUNKS / 2);
        assertThat(a.bitmap().orElseThrow().stats().bitsSet() - bitsBefore)
                .as("every chained write set its own bit")
                .isGreaterThanOrEqualTo(CHUNKS);
        for (int i = 0; i < CHUNKS; i++) {
            ByteBuffer got = AlignedBuffers.allocate(4096);
            a.read(i * CHUNK, got);
            assertThat(got.getInt(0)).isEqualTo(i);
            assertThat(got.getInt(4092)).isEqualTo(i);
        }
        assertThat(a.stats().inFlight()).isZero();
    }

    @ParameterizedTest
    @EnumSource(IoEngine.class)
    void flushAndReadChainedFromCompletionsComplete(IoEngine engine) throws Exception {
        Raid1Array a = array(engine);
        ByteBuffer got = AlignedBuffers.allocate(4096);
        a.writeAsync(3 * CHUNK, block(7))
                .thenCompose(v -> a.flushAsync())
                .thenCompose(v -> a.writeAsync(9 * CHUNK, block(8), true))
                .thenCompose(v -> a.readAsync(3 * CHUNK, got))
                .get(WAIT_SECONDS, TimeUnit.SECONDS);
        assertThat(got.getInt(0)).isEqualTo(7);
    }

    @ParameterizedTest
    @EnumSource(IoEngine.class)
    void aBlockingCallOnACompletionThreadFailsInsteadOfHanging(IoEngine engine) throws Exception {
        Raid1Array a = array(engine);
        // an engine thread of our own: a completion callback may or may not run on one, this always does
        CompletableFuture<Throwable> thrown = new CompletableFuture<>();
        new EngineThread(
                        () -> {
                            try {
                                a.write(5 * CHUNK, block(2));
                                thrown.complete(null);
                            } catch (Throwable t) {
                                thrown.complete(t);
                            }
                        },
                        "test-completion")
                .start();
        assertThat(thrown.get(WAIT_SECONDS, TimeUnit.SECONDS))
                .isInstanceOf(IllegalStateException.class)
                .hasMessageContaining("engine thread");
        // and nothing was written or left half done
        assertThat(a.stats().inFlight()).isZero();
        ByteBuffer got = AlignedBuffers.allocate(4096);
        a.read(5 * CHUNK, got);
        assertThat(got.getInt(0)).isZero();
    }
}
