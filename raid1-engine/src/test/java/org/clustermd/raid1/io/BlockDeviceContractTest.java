package org.clustermd.raid1.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.io.BlockDeviceException.Code;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The {@link BlockDevice} contract, run against every implementation through
 * {@link #openDevice(long)} (Curator's TestInterProcessMutexBase.makeLock pattern).
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
public abstract class BlockDeviceContractTest {
    /** Device size every implementation is asked for. */
    protected static final long SIZE = 4L << 20;

    protected BlockDevice dev;
    protected int bs;

    /** Opens a fresh device of exactly {@code size} bytes, zero-filled. */
    protected abstract BlockDevice openDevice(long size) throws Exception;

    /** Releases whatever {@link #openDevice} set up besides the device (called after close). */
    protected void release() throws Exception {}

    @BeforeEach
    void setUpDevice() throws Exception {
        dev = openDevice(SIZE);
        bs = dev.logicalBlockSize();
    }

    @AfterEach
    void tearDownDevice() throws Exception {
        try {
            if (dev != null) {
                dev.close();
            }
        } finally {
            release();
        }
    }

    protected static ByteBuffer random(int size, long seed) {
        ByteBuffer b = AlignedBuffers.allocate(size);
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        b.put(data).flip();
        return b;
    }

    protected byte[] readBytes(long offset, int len) throws Exception {
        ByteBuffer b = AlignedBuffers.allocate(len);
        dev.read(offset, b);
        byte[] out = new byte[len];
        b.get(0, out);
        return out;
    }

    protected static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.remaining()];
        b.get(b.position(), out);
        return out;
    }

    private static Code codeOf(CompletableFuture<?> f) {
        assertThat(f).isCompletedExceptionally();
        try {
            f.join();
            throw new AssertionError("expected failure");
        } catch (CompletionException e) {
            assertThat(e.getCause()).isInstanceOf(BlockDeviceException.class);
            return ((BlockDeviceException) e.getCause()).code();
        }
    }

    @Test
    void reportsSizeAndLogicalBlockSize() {
        assertThat(dev.size()).isEqualTo(SIZE);
        assertThat(bs).isIn(512, 4096);
        assertThat(dev.size() % bs).isZero();
        assertThat(dev.name()).isNotBlank();
    }

    @Test
    void blockingWriteThenReadReturnsTheData() throws Exception {
        long[] offsets = {0, bs, 3L * bs, SIZE - 8192, SIZE - bs};
        for (int i = 0; i < offsets.length; i++) {
            int len = (int) Math.min(8192, SIZE - offsets[i]);
            ByteBuffer src = random(len, i);
            dev.write(offsets[i], src);
            assertThat(readBytes(offsets[i], len)).as("offset %d", offsets[i]).isEqualTo(bytes(src));
        }
    }

    @Test
    void asyncWritesInFlightTogetherAllLand() throws Exception {
        int n = 64;
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        List<ByteBuffer> srcs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuffer src = random(4096, 100 + i);
            srcs.add(src);
            fs.add(dev.writeAsync((long) i * 8192, src));
        }
        CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new))
                .get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        List<CompletableFuture<Void>> rs = new ArrayList<>();
        List<ByteBuffer> dsts = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuffer dst = AlignedBuffers.allocate(4096);
            dsts.add(dst);
            rs.add(dev.readAsync((long) i * 8192, dst));
        }
        CompletableFuture.allOf(rs.toArray(CompletableFuture[]::new))
                .get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        for (int i = 0; i < n; i++) {
            assertThat(bytes(dsts.get(i))).as("block %d", i).isEqualTo(bytes(srcs.get(i)));
        }
        assertThat(dev.stats().inFlight()).isZero();
    }

    @Test
    void theCallbackFormReportsEachWriteOnceWithItsTagAndTheDataLands() throws Exception {
        int n = 16;
        List<CompletableFuture<Throwable>> ends = new ArrayList<>();
        for (int i = 0; i < n; i++) ends.add(new CompletableFuture<>());
        IoCompletion done = (tag, failure) -> {
            // a second report for one tag turns its result into a failure
            if (!ends.get(tag).complete(failure)) ends.get(tag).obtrudeValue(new AssertionError("reported twice"));
        };
        List<ByteBuffer> srcs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            ByteBuffer src = random(4096, 300 + i);
            srcs.add(src);
            dev.writeAsync((long) i * 8192, src, false, done, i);
        }
        for (int i = 0; i < n; i++) {
            assertThat(ends.get(i).get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS))
                    .as("write %d", i)
                    .isNull();
        }
        for (int i = 0; i < n; i++) {
            assertThat(readBytes((long) i * 8192, 4096)).as("block %d", i).isEqualTo(bytes(srcs.get(i)));
        }
        assertThat(dev.stats().inFlight()).isZero();
    }

    @Test
    void theCallbackFormReportsAnUnalignedWriteAsItsFailure() throws Exception {
        CompletableFuture<Throwable> end = new CompletableFuture<>();
        dev.writeAsync(bs / 2, random(bs, 1), false, (tag, failure) -> end.complete(failure), 7);
        Throwable t = end.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        while (t instanceof CompletionException && t.getCause() != null) t = t.getCause();
        assertThat(t)
                .isInstanceOfSatisfying(
                        BlockDeviceException.class, e -> assertThat(e.code()).isEqualTo(Code.UNALIGNED));
    }

    @Test
    void requestCoversPositionToLimitAndLeavesTheBufferAlone() throws Exception {
        ByteBuffer big = random(4 * 4096, 7);
        big.position(4096).limit(3 * 4096);
        dev.writeAsync(0, big).get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(big.position()).isEqualTo(4096);
        assertThat(big.limit()).isEqualTo(3 * 4096);
        assertThat(readBytes(0, 2 * 4096)).isEqualTo(bytes(big));

        ByteBuffer dst = AlignedBuffers.allocate(3 * 4096);
        dst.position(4096);
        dev.read(0, dst);
        assertThat(dst.position()).isEqualTo(4096);
        assertThat(bytes(dst)).isEqualTo(bytes(big));
    }

    @Test
    void oneSourceBufferMayGoToSeveralPlacesAtOnce() throws Exception {
        ByteBuffer src = random(65536, 11);
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            fs.add(dev.writeAsync((long) i * 65536, src));
        }
        CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new))
                .get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        for (int i = 0; i < 8; i++) {
            assertThat(readBytes((long) i * 65536, 65536)).isEqualTo(bytes(src));
        }
    }

    @Test
    void unalignedOffsetIsRejectedAndNothingIsWritten() throws Exception {
        ByteBuffer src = random(bs, 1);
        assertThat(codeOf(dev.writeAsync(bs / 2, src))).isEqualTo(Code.UNALIGNED);
        assertThatThrownBy(() -> dev.write(bs / 2, src))
                .isInstanceOfSatisfying(
                        BlockDeviceException.class, e -> assertThat(e.code()).isEqualTo(Code.UNALIGNED))
                .hasMessageContaining(dev.name())
                .hasMessageContaining("offset " + bs / 2);
        assertThat(readBytes(0, 2 * bs)).containsOnly(0);
        assertThat(dev.stats().writesCompleted()).isZero();
    }

    @Test
    void unalignedLengthIsRejected() throws Exception {
        ByteBuffer src = random(2 * bs, 2);
        src.limit(bs + bs / 2);
        assertThat(codeOf(dev.writeAsync(0, src))).isEqualTo(Code.UNALIGNED);
        ByteBuffer dst = AlignedBuffers.allocate(2 * bs);
        dst.limit(bs / 2);
        assertThatThrownBy(() -> dev.read(0, dst))
                .isInstanceOfSatisfying(
                        BlockDeviceException.class, e -> assertThat(e.code()).isEqualTo(Code.UNALIGNED));
        assertThat(readBytes(0, 2 * bs)).containsOnly(0);
    }

    @Test
    void unalignedBufferAddressIsRejected() throws Exception {
        ByteBuffer src = random(3 * bs, 3);
        src.position(bs / 2).limit(bs / 2 + bs);
        assertThat(codeOf(dev.writeAsync(0, src))).isEqualTo(Code.UNALIGNED);
        assertThatThrownBy(() -> dev.write(0, src))
                .isInstanceOfSatisfying(
                        BlockDeviceException.class, e -> assertThat(e.code()).isEqualTo(Code.UNALIGNED))
                .hasMessageContaining("buffer address");
        assertThat(readBytes(0, bs)).containsOnly(0);
    }

    @Test
    void heapBufferIsRejected() {
        ByteBuffer heap = ByteBuffer.allocate(bs);
        assertThat(codeOf(dev.writeAsync(0, heap))).isEqualTo(Code.BAD_BUFFER);
        assertThatThrownBy(() -> dev.read(0, heap))
                .isInstanceOfSatisfying(
                        BlockDeviceException.class, e -> assertThat(e.code()).isEqualTo(Code.BAD_BUFFER));
    }

    @Test
    void requestsOutsideTheDeviceAreRejected() {
        ByteBuffer b = AlignedBuffers.allocate(2 * bs);
        assertThat(codeOf(dev.readAsync(SIZE, b.duplicate().limit(bs)))).isEqualTo(Code.OUT_OF_RANGE);
        assertThat(codeOf(dev.writeAsync(SIZE - bs, b))).isEqualTo(Code.OUT_OF_RANGE);
        assertThat(codeOf(dev.readAsync(-bs, b))).isEqualTo(Code.OUT_OF_RANGE);
        assertThatThrownBy(() -> dev.write(Long.MAX_VALUE - bs + 1, b)).isInstanceOf(BlockDeviceException.class);
        assertThat(dev.stats().inFlight()).isZero();
    }

    @Test
    void zeroLengthRequestCompletesAtOnce() throws Exception {
        ByteBuffer empty = AlignedBuffers.allocate(0);
        dev.writeAsync(0, empty).get(Timing.seconds(5).toMillis(), TimeUnit.MILLISECONDS);
        dev.read(0, empty);
    }

    @Test
    void flushAndFuaWritesComplete() throws Exception {
        ByteBuffer src = random(8192, 5);
        dev.write(0, src, true);
        dev.writeAsync(8192, src, true).get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        dev.writeAsync(16384, src).get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        dev.flushAsync().get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        dev.flush();
        assertThat(readBytes(16384, 8192)).isEqualTo(bytes(src));
        assertThat(dev.stats().flushesCompleted()).isGreaterThanOrEqualTo(2);
    }

    @Test
    void statsCountEveryCompletedRequestInDiskstatsTerms() throws Exception {
        DiskStats before = dev.stats();
        ByteBuffer src = random(8192, 9);
        for (int i = 0; i < 5; i++) {
            dev.write((long) i * 8192, src);
        }
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            fs.add(dev.readAsync((long) i * 8192, AlignedBuffers.allocate(4096)));
        }
        CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new))
                .get(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        dev.flush();
        DiskStats s = dev.stats();
        assertThat(s.writesCompleted() - before.writesCompleted()).isEqualTo(5);
        assertThat(s.sectorsWritten() - before.sectorsWritten()).isEqualTo(5 * 16);
        assertThat(s.readsCompleted() - before.readsCompleted()).isEqualTo(3);
        assertThat(s.sectorsRead() - before.sectorsRead()).isEqualTo(3 * 8);
        assertThat(s.flushesCompleted() - before.flushesCompleted()).isEqualTo(1);
        assertThat(s.inFlight()).isZero();
        assertThat(s.timeInQueueMs()).isGreaterThanOrEqualTo(s.ioTicksMs() > 0 ? 0 : 0);
    }

    @Test
    void inFlightReturnsToZeroAfterAConcurrentBurst() throws Exception {
        ByteBuffer src = random(4096, 13);
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 200; i++) {
            long off = (long) (i % 500) * 4096;
            fs.add(
                    i % 3 == 0
                            ? dev.readAsync(off, AlignedBuffers.allocate(4096))
                            : dev.writeAsync(off + 4096L * 500, src));
        }
        fs.add(dev.flushAsync());
        CompletableFuture.allOf(fs.toArray(CompletableFuture[]::new))
                .get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        DiskStats s = dev.stats();
        assertThat(s.inFlight()).isZero();
        assertThat(s.readsCompleted() + s.writesCompleted()).isEqualTo(200);
        assertThat(s.errors()).isZero();
    }

    @Test
    void closedDeviceRejectsRequestsAndCloseIsIdempotent() throws Exception {
        dev.close();
        assertThat(codeOf(dev.readAsync(0, AlignedBuffers.allocate(bs)))).isEqualTo(Code.CLOSED);
        assertThatThrownBy(() -> dev.flush())
                .isInstanceOfSatisfying(
                        BlockDeviceException.class, e -> assertThat(e.code()).isEqualTo(Code.CLOSED));
        dev.close();
    }

    @Test
    void closeWaitsForRequestsInFlight() throws Exception {
        ByteBuffer src = random(65536, 17);
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 32; i++) {
            fs.add(dev.writeAsync((long) i * 65536, src));
        }
        dev.close();
        for (CompletableFuture<Void> f : fs) {
            assertThat(f).isDone();
            f.join();
        }
        assertThat(dev.stats().inFlight()).isZero();
    }
}
