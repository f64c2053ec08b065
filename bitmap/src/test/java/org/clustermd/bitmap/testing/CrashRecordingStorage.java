package org.clustermd.bitmap.testing;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.clustermd.bitmap.storage.BitmapStorage;

/**
 * A bitmap area in memory that knows what would survive a power cut: the durable image (as
 * of the last flush) and the writes since then. After every write and every flush it calls a
 * listener, which can ask for the images a power cut at that moment could leave:
 * <ul>
 *   <li>{@link Model#LOST}: every write since the last flush lost;</li>
 *   <li>{@link Model#KEPT}: every write kept, though the flush never happened;</li>
 *   <li>{@link Model#TORN}: each unflushed write kept or lost per 512-byte sector, at random
 *       (a seeded {@link Random}).</li>
 * </ul>
 *
 * <p>Thread-safe (synchronized); the listener runs with this storage's monitor held, so it
 * must not call back into the storage from another thread.
 */
public final class CrashRecordingStorage implements BitmapStorage {

    /** What a power cut keeps of unflushed writes. */
    public enum Model {
        LOST,
        KEPT,
        TORN
    }

    /** Called after every write and flush. */
    @FunctionalInterface
    public interface Listener {
        void afterOperation(CrashRecordingStorage storage, boolean wasFlush);
    }

    private record Write(long offset, byte[] bytes) {}

    private final String name;
    private final byte[] durable;
    private final byte[] current;
    private final List<Write> unflushed = new ArrayList<>();
    private long operations;
    private Listener listener;

    public CrashRecordingStorage(String name, long size) {
        this.name = name;
        this.durable = new byte[Math.toIntExact(size)];
        this.current = new byte[Math.toIntExact(size)];
    }

    public synchronized void listener(Listener l) {
        this.listener = l;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return current.length;
    }

    @Override
    public synchronized void read(long offset, ByteBuffer dst) {
        check(offset, dst.remaining());
        dst.put(current, (int) offset, dst.remaining());
    }

    @Override
    public synchronized void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src.remaining());
        byte[] b = new byte[src.remaining()];
        src.get(b);
        System.arraycopy(b, 0, current, (int) offset, b.length);
        unflushed.add(new Write(offset, b));
        operations++;
        if (listener != null) listener.afterOperation(this, false);
    }

    @Override
    public synchronized void flush() {
        for (Write w : unflushed) System.arraycopy(w.bytes, 0, durable, (int) w.offset, w.bytes.length);
        unflushed.clear();
        operations++;
        if (listener != null) listener.afterOperation(this, true);
    }

    @Override
    public void close() {}

    /** Writes and flushes so far. */
    public synchronized long operations() {
        return operations;
    }

    public synchronized int unflushedWrites() {
        return unflushed.size();
    }

    /** What a power cut now could leave on disk under {@code model}. */
    public synchronized byte[] crashImage(Model model, Random random) {
        switch (model) {
            case LOST:
                return durable.clone();
            case KEPT:
                return current.clone();
            default:
                byte[] img = durable.clone();
                for (Write w : unflushed) {
                    for (int s = 0; s < w.bytes.length; s += 512) {
                        if (random.nextBoolean()) System.arraycopy(w.bytes, s, img, (int) w.offset + s, 512);
                    }
                }
                return img;
        }
    }

    /** The image as of the last flush. */
    public synchronized byte[] durableImage() {
        return durable.clone();
    }

    private void check(long offset, int length) {
        if (offset < 0 || offset % BLOCK_SIZE != 0 || length % BLOCK_SIZE != 0 || offset + length > current.length) {
            throw new IllegalArgumentException(name + ": I/O [" + offset + ", +" + length + ") breaks the contract");
        }
    }
}
