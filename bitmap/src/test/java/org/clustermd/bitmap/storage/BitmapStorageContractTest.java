package org.clustermd.bitmap.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link BitmapStorage} must keep. raid1-engine runs it against its leg
 * storage through the bitmap test-jar: subclass and implement {@link #newStorage(long)}.
 */
public abstract class BitmapStorageContractTest {
    private final List<BitmapStorage> opened = new ArrayList<>();

    /** A fresh storage of at least {@code size} bytes (a multiple of 4096). */
    protected abstract BitmapStorage createStorage(long size) throws Exception;

    protected final BitmapStorage newStorage(long size) throws Exception {
        BitmapStorage s = createStorage(size);
        opened.add(s);
        return s;
    }

    @AfterEach
    void closeAll() throws Exception {
        for (BitmapStorage s : opened) s.close();
    }

    private static ByteBuffer pattern(int bytes, long seed) {
        ByteBuffer b = BitmapStorage.allocate(bytes);
        Random r = new Random(seed);
        for (int i = 0; i < bytes; i++) b.put(i, (byte) r.nextInt());
        return b;
    }

    private static byte[] read(BitmapStorage s, long offset, int bytes) throws Exception {
        ByteBuffer b = BitmapStorage.allocate(bytes);
        s.read(offset, b);
        byte[] out = new byte[bytes];
        b.clear().get(out);
        return out;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] out = new byte[b.capacity()];
        b.duplicate().clear().get(out);
        return out;
    }

    @Test
    void sizeIsWholeBlocks() throws Exception {
        BitmapStorage s = newStorage(64 * 1024);
        assertThat(s.size()).isGreaterThanOrEqualTo(64 * 1024);
        assertThat(s.size() % BitmapStorage.BLOCK_SIZE).isZero();
        assertThat(s.name()).isNotBlank();
    }

    @Test
    void readReturnsWhatWasWritten() throws Exception {
        BitmapStorage s = newStorage(64 * 1024);
        ByteBuffer a = pattern(4096, 1);
        ByteBuffer b = pattern(3 * 4096, 2);
        s.write(0, a.duplicate());
        s.write(8192, b.duplicate());
        s.flush();
        assertThat(read(s, 0, 4096)).isEqualTo(bytes(a));
        assertThat(read(s, 8192, 3 * 4096)).isEqualTo(bytes(b));
    }

    @Test
    void readSeesUnflushedWrites() throws Exception {
        BitmapStorage s = newStorage(16 * 1024);
        ByteBuffer a = pattern(4096, 3);
        s.write(4096, a.duplicate());
        assertThat(read(s, 4096, 4096)).isEqualTo(bytes(a));
    }

    @Test
    void lastBlockIsUsable() throws Exception {
        BitmapStorage s = newStorage(16 * 1024);
        ByteBuffer a = pattern(4096, 4);
        s.write(s.size() - 4096, a.duplicate());
        s.flush();
        assertThat(read(s, s.size() - 4096, 4096)).isEqualTo(bytes(a));
    }

    @Test
    void writeKeepsNoReferenceToTheBuffer() throws Exception {
        BitmapStorage s = newStorage(16 * 1024);
        ByteBuffer a = pattern(4096, 5);
        byte[] expected = bytes(a);
        s.write(0, a.duplicate());
        for (int i = 0; i < 4096; i++) a.put(i, (byte) 0);
        s.flush();
        assertThat(read(s, 0, 4096)).isEqualTo(expected);
    }

    @Test
    void misalignedOrOutOfRangeIoIsRefused() throws Exception {
        BitmapStorage s = newStorage(16 * 1024);
        assertThatThrownBy(() -> s.write(512, BitmapStorage.allocate(4096)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.write(s.size(), BitmapStorage.allocate(4096)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.read(0, BitmapStorage.allocate(8192).limit(1000)))
                .isInstanceOf(IllegalArgumentException.class);
        // offset + length overflows to a negative sum: the check must not be fooled by it
        long last = Long.MAX_VALUE - (BitmapStorage.BLOCK_SIZE - 1);
        assertThatThrownBy(() -> s.write(last, BitmapStorage.allocate(4096)))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> s.read(last, BitmapStorage.allocate(4096)))
                .isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void concurrentWritersToDifferentBlocks() throws Exception {
        BitmapStorage s = newStorage(32 * 4096);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int thread = t;
                fs.add(pool.submit(() -> {
                    for (int round = 0; round < 20; round++) {
                        for (int blk = thread; blk < 32; blk += 4) {
                            s.write(blk * 4096L, pattern(4096, blk * 1000 + round));
                        }
                        s.flush();
                    }
                    return null;
                }));
            }
            for (Future<?> f : fs) f.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        } finally {
            pool.shutdownNow();
        }
        for (int blk = 0; blk < 32; blk++) {
            assertThat(read(s, blk * 4096L, 4096)).as("block %d", blk).isEqualTo(bytes(pattern(4096, blk * 1000 + 19)));
        }
    }
}
