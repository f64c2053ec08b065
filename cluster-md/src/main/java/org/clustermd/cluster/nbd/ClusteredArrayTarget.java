package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import org.clustermd.cluster.ClusteredArray;

/**
 * A {@link ClusteredArray} as an NBD export, so the node daemon serves NBD from the embedding
 * API (docs/design.md §5): the export name is the array name; I/O goes to the array's
 * CompletableFuture forms, whose FUA and flush promises are those {@link NbdTarget} needs.
 * Failures map to NBD errors as {@link Raid1ArrayTarget} maps them.
 *
 * <p>Thread-safe (the array is).
 */
public final class ClusteredArrayTarget implements NbdTarget {
    private final ClusteredArray array;
    private final Raid1ArrayTarget errors;

    public ClusteredArrayTarget(ClusteredArray array) {
        this.array = Objects.requireNonNull(array, "array");
        this.errors = new Raid1ArrayTarget(array.engine());
    }

    @Override
    public String name() {
        return array.name();
    }

    @Override
    public long size() {
        return array.size();
    }

    @Override
    public int logicalBlockSize() {
        return array.logicalBlockSize();
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return array.readAsync(offset, dst);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return array.writeAsync(offset, src, fua);
    }

    /** The engine's {@link org.clustermd.raid1.Raid1Array#tryWriteAsync}: issued from the network thread when nothing waits. */
    @Override
    public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
        return array.engine().tryWriteAsync(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return array.flushAsync();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length) {
        return array.discardAsync(offset, length);
    }

    @Override
    public NbdError errorOf(Throwable failure) {
        return errors.errorOf(failure);
    }

    @Override
    public String toString() {
        return "ClusteredArrayTarget[" + array.name() + "]";
    }
}
