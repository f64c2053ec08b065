package org.clustermd.raid1.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A {@link BlockDevice} that passes every call to another one; a wrapper that watches or changes
 * a few calls (counting writes, recording them) extends it and overrides only those.
 *
 * <p>Thread-safe when the wrapped device and the overrides are.
 */
public abstract class ForwardingBlockDevice implements BlockDevice {
    private final BlockDevice inner;

    protected ForwardingBlockDevice(BlockDevice inner) {
        this.inner = inner;
    }

    /** The wrapped device. */
    protected final BlockDevice inner() {
        return inner;
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
