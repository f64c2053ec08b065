package org.clustermd.raid1.io;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * AIO devices sharing one {@link AioContext} and its reaper, and the {@link IoPlug} that hands
 * several devices' requests to the kernel in one {@code io_submit}: what is plugged is not
 * issued before the plug closes, every plugged request completes after it, a plug holding more
 * than a device's depth does not wait on itself, and the context outlives every device but the
 * last, even when that one is closed from a completion on the reaper.
 */
class SharedAioContextTest {
    private static final int BLOCK = 4096;
    private static final long WAIT_SECONDS = 60;

    @TempDir
    Path dir;

    private BlockDevice open(String name, int depth) throws Exception {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        BlockDevice d = BlockDevices.open(
                f, BlockDeviceOptions.defaults().withEngine(IoEngine.AIO).withQueueDepth(depth));
        assertThat(((PosixBlockDevice) d).engine()).isEqualTo(IoEngine.AIO);
        return d;
    }

    private static ByteBuffer block(int fill) {
        ByteBuffer b = AlignedBuffers.allocate(BLOCK);
        for (int i = 0; i < BLOCK; i++) b.put(i, (byte) fill);
        return b;
    }

    private static void assertHolds(BlockDevice d, long offset, int fill) throws Exception {
        ByteBuffer r = AlignedBuffers.allocate(BLOCK);
        d.read(offset, r);
        for (int i = 0; i < BLOCK; i++) assertThat(r.get(i)).isEqualTo((byte) fill);
    }

    @Test
    void pluggedWritesToTwoDevicesAreIssuedWhenThePlugClosesAndThenComplete() throws Exception {
        try (BlockDevice a = open("a", 64);
                BlockDevice b = open("b", 64)) {
            ByteBuffer data = block(0x5a);
            CompletableFuture<Void> fa;
            CompletableFuture<Void> fb;
            try (IoPlug plug = IoPlug.start()) {
                fa = a.writeAsync(BLOCK, data);
                fb = b.writeAsync(2 * BLOCK, data);
                // prepared, not submitted: nothing can have completed yet
                assertThat(fa).isNotDone();
                assertThat(fb).isNotDone();
                assertThat(a.stats().inFlight() + b.stats().inFlight()).isEqualTo(2);
            }
            fa.get(WAIT_SECONDS, TimeUnit.SECONDS);
            fb.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertHolds(a, BLOCK, 0x5a);
            assertHolds(b, 2 * BLOCK, 0x5a);
        }
    }

    @Test
    void aPlugHoldingMoreThanADevicesDepthFlushesBeforeItWaitsForASlot() throws Exception {
        try (BlockDevice a = open("a", 2)) {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            try (IoPlug plug = IoPlug.start()) {
                // the third write finds both slots prepared in this plug: without the flush it would wait forever
                for (int i = 0; i < 40; i++) fs.add(a.writeAsync((long) i * BLOCK, block(i)));
            }
            for (CompletableFuture<Void> f : fs) f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            for (int i = 0; i < 40; i++) assertHolds(a, (long) i * BLOCK, i);
        }
    }

    @Test
    void nestedPlugsSubmitAtTheOutermostClose() throws Exception {
        try (BlockDevice a = open("a", 64)) {
            CompletableFuture<Void> f;
            try (IoPlug outer = IoPlug.start()) {
                try (IoPlug inner = IoPlug.start()) {
                    f = a.writeAsync(0, block(7));
                }
                assertThat(f).isNotDone();
            }
            f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertHolds(a, 0, 7);
        }
    }

    @Test
    void aBatchHoldsWhatItsPlugsPreparedUntilItCloses() throws Exception {
        try (BlockDevice a = open("a", 64);
                BlockDevice b = open("b", 64)) {
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            try (IoPlug.Batch batch = IoPlug.batch()) {
                for (int i = 0; i < 5; i++) {
                    // each mirrored write plugs its own legs; the batch keeps them all
                    try (IoPlug plug = IoPlug.start()) {
                        fs.add(a.writeAsync((long) i * BLOCK, block(i)));
                        fs.add(b.writeAsync((long) i * BLOCK, block(i + 10)));
                    }
                }
                for (CompletableFuture<Void> f : fs) assertThat(f).isNotDone();
            }
            for (CompletableFuture<Void> f : fs) f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            for (int i = 0; i < 5; i++) {
                assertHolds(a, (long) i * BLOCK, i);
                assertHolds(b, (long) i * BLOCK, i + 10);
            }
        }
    }

    @Test
    void flushHeldSubmitsWhatABatchHoldsSoItsThreadMayWait() throws Exception {
        try (BlockDevice a = open("a", 64)) {
            try (IoPlug.Batch batch = IoPlug.batch()) {
                CompletableFuture<Void> f;
                try (IoPlug plug = IoPlug.start()) {
                    f = a.writeAsync(0, block(6));
                }
                assertThat(f).isNotDone();
                IoPlug.flushHeld();
                f.get(WAIT_SECONDS, TimeUnit.SECONDS); // would never complete without the flush
                // a request outside a plug section is not held by the batch
                a.writeAsync(BLOCK, block(8)).get(WAIT_SECONDS, TimeUnit.SECONDS);
            }
            assertHolds(a, 0, 6);
            assertHolds(a, BLOCK, 8);
        }
    }

    @Test
    void aPlugSpanningSeveralContextsSubmitsToEachOfThem() throws Exception {
        // more depth than one context has slots: the devices are spread over two or more contexts
        int devices = AioContext.SLOTS / 64 + 2;
        List<BlockDevice> open = new ArrayList<>();
        try {
            for (int i = 0; i < devices; i++) open.add(open("m" + i, 64));
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            try (IoPlug plug = IoPlug.start()) {
                for (int i = 0; i < devices; i++) fs.add(open.get(i).writeAsync(0, block(20 + i)));
                for (CompletableFuture<Void> f : fs) assertThat(f).isNotDone();
            }
            for (CompletableFuture<Void> f : fs) f.get(WAIT_SECONDS, TimeUnit.SECONDS);
            for (int i = 0; i < devices; i++) assertHolds(open.get(i), 0, 20 + i);
        } finally {
            for (BlockDevice d : open) d.close();
        }
    }

    @Test
    void theContextOutlivesEveryDeviceButTheLast() throws Exception {
        BlockDevice a = open("a", 64);
        try (BlockDevice b = open("b", 64)) {
            a.write(0, block(1));
            a.close();
            // b shares a's context (and its reaper): closing a must leave both working for b
            for (int i = 0; i < 100; i++)
                b.writeAsync((long) i * BLOCK, block(i)).get(WAIT_SECONDS, TimeUnit.SECONDS);
            assertHolds(b, 99L * BLOCK, 99);
        }
        try (BlockDevice c = open("c", 64)) {
            c.write(0, block(3));
            assertHolds(c, 0, 3);
        }
    }

    @Test
    void theLastDeviceClosedFromACompletionOnTheReaperLeavesTheContextToTheReaper() throws Exception {
        // no other device of this test is open, so d is normally its context's last user
        BlockDevice d = open("d", 64);
        CompletableFuture<Thread> closedOn = new CompletableFuture<>();
        try (IoPlug plug = IoPlug.start()) {
            // plugged, so the callback is in place before the write is issued and runs on the reaper
            d.writeAsync(0, block(9)).whenComplete((v, t) -> {
                try {
                    d.close(); // the reaper cannot join itself: it destroys the context as it leaves
                    closedOn.complete(Thread.currentThread());
                } catch (Exception e) {
                    closedOn.completeExceptionally(e);
                }
            });
        }
        assertThat(closedOn.get(WAIT_SECONDS, TimeUnit.SECONDS).getName()).startsWith("aio-reaper-");
        try (BlockDevice e = open("e", 64)) {
            e.write(0, block(4));
            assertHolds(e, 0, 4);
        }
    }
}
