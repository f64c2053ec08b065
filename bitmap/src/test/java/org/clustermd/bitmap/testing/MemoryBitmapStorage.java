package org.clustermd.bitmap.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.bitmap.BitmapGeometry;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.storage.BitmapStorage;

/**
 * A bitmap area in memory that enforces the {@link BitmapStorage} contract, counts calls, and
 * lets a test fail or hold up writes and flushes. Hooks run outside any lock of this class, so
 * they may block.
 *
 * <p>Thread-safe.
 */
public final class MemoryBitmapStorage implements BitmapStorage {

    /** Runs inside {@link #write} before the data is stored, or inside {@link #flush}. */
    @FunctionalInterface
    public interface Hook {
        void run(long offset, ByteBuffer data) throws IOException;
    }

    private final String name;
    private final byte[] data;
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong flushes = new AtomicLong();
    private volatile Hook writeHook;
    private volatile Hook flushHook;
    private volatile IOException writeFailure;
    private volatile IOException flushFailure;

    public MemoryBitmapStorage(String name, long size) {
        if (size % BLOCK_SIZE != 0) throw new IllegalArgumentException("size " + size);
        this.name = name;
        this.data = new byte[Math.toIntExact(size)];
    }

    /** A storage holding a copy of {@code image}. */
    public static MemoryBitmapStorage of(String name, byte[] image) {
        MemoryBitmapStorage s = new MemoryBitmapStorage(name, image.length);
        System.arraycopy(image, 0, s.data, 0, image.length);
        return s;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return data.length;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
        check(offset, dst.remaining());
        synchronized (data) {
            dst.put(data, (int) offset, dst.remaining());
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src.remaining());
        Hook h = writeHook;
        if (h != null) h.run(offset, src.duplicate());
        IOException f = writeFailure;
        if (f != null) throw f;
        synchronized (data) {
            src.get(data, (int) offset, src.remaining());
        }
        writes.incrementAndGet();
    }

    @Override
    public void flush() throws IOException {
        Hook h = flushHook;
        if (h != null) h.run(-1, null);
        IOException f = flushFailure;
        if (f != null) throw f;
        flushes.incrementAndGet();
    }

    @Override
    public void close() {}

    public void onWrite(Hook hook) {
        this.writeHook = hook;
    }

    public void onFlush(Hook hook) {
        this.flushHook = hook;
    }

    /** Every later write fails with {@code failure} (null: stop failing). */
    public void failWrites(IOException failure) {
        this.writeFailure = failure;
    }

    public void failFlushes(IOException failure) {
        this.flushFailure = failure;
    }

    public long writes() {
        return writes.get();
    }

    public long flushes() {
        return flushes.get();
    }

    public byte[] snapshot() {
        synchronized (data) {
            return data.clone();
        }
    }

    /** Whether chunk {@code chunk}'s bit is set in the slot starting at {@code slotOffset}. */
    public boolean bit(long slotOffset, long chunk) {
        synchronized (data) {
            return testBit(data, slotOffset, chunk);
        }
    }

    public static boolean testBit(byte[] image, long slotOffset, long chunk) {
        int i = (int) (slotOffset + BitmapSuperblock.SIZE + (chunk >>> 3));
        return (image[i] & (1 << (chunk & 7))) != 0;
    }

    /** Stride of a geometry, for tests that compute slot offsets. */
    public static long stride(BitmapGeometry g) {
        return g.stride();
    }

    private void check(long offset, int length) {
        BitmapStorage.checkRange(name, offset, length, data.length);
    }
}
