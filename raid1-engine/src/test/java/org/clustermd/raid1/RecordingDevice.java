package org.clustermd.raid1;

import java.nio.ByteBuffer;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;

/** A test wrapper around a real leg that records each write's offset, length and FUA flag. */
public final class RecordingDevice extends ForwardingBlockDevice {
    /** One write as issued. */
    public record Write(long seq, long offset, int length, boolean fua) {}

    private final AtomicLong seq;
    public final List<Write> writes = new CopyOnWriteArrayList<>();

    public RecordingDevice(BlockDevice inner, AtomicLong seq) {
        super(inner);
        this.seq = seq;
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        writes.add(new Write(seq.incrementAndGet(), offset, src.remaining(), fua));
        return inner().writeAsync(offset, src, fua);
    }
}
