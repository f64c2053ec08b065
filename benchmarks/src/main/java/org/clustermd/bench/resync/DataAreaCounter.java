package org.clustermd.bench.resync;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;

/**
 * A measuring {@link BlockDevice} wrapper for figure P10: counts the bytes of successful writes
 * that land in the leg's data area (at or after data_offset), so superblock and bitmap writes are
 * left out and what remains is exactly what a resync or recovery wrote. Everything else passes
 * through unchanged.
 *
 * <p>Thread-safe, like the device it wraps.
 */
final class DataAreaCounter extends ForwardingBlockDevice {
    private final long dataOffsetBytes;
    private final AtomicLong dataBytesWritten = new AtomicLong();

    DataAreaCounter(BlockDevice inner, long dataOffsetBytes) {
        super(inner);
        this.dataOffsetBytes = dataOffsetBytes;
    }

    /** Data-area bytes written since open or the last {@link #reset()}. */
    long dataBytesWritten() {
        return dataBytesWritten.get();
    }

    void reset() {
        dataBytesWritten.set(0);
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        long len = src.remaining();
        CompletableFuture<Void> f = inner().writeAsync(offset, src, fua);
        if (offset + len <= dataOffsetBytes) return f;
        long counted = len - Math.max(0, dataOffsetBytes - offset);
        return f.thenRun(() -> dataBytesWritten.addAndGet(counted));
    }
}
