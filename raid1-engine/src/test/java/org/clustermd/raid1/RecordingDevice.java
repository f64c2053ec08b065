package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.DiskStats;

/** A test wrapper around a real leg that records each write's offset, length and FUA flag. */
public final class RecordingDevice implements BlockDevice {
    /** One write as issued. */
    public record Write(long seq, long offset, int length, boolean fua) {}

    private final BlockDevice inner;
    private final AtomicLong seq;
    public final List<Write> writes = new CopyOnWriteArrayList<>();

    public RecordingDevice(BlockDevice inner, AtomicLong seq) {
        this.inner = inner;
        this.seq = seq;
    }

    @Override
    public String name() {
        return inner.name();
    }

    @Override
    public long size() {
        return inner.size();
    }

    @Override
    public int logicalBlockSize() {
        return inner.logicalBlockSize();
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return inner.readAsync(offset, dst);
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        writes.add(new Write(seq.incrementAndGet(), offset, src.remaining(), fua));
        return inner.writeAsync(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> flushAsync() {
        return inner.flushAsync();
    }

    @Override
    public DiskStats stats() {
        return inner.stats();
    }

    @Override
    public void close() throws IOException {
        inner.close();
    }
}
