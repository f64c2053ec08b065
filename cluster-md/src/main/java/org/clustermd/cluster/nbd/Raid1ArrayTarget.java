package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;

/**
 * A {@link Raid1Array} as an NBD export: the export name is the array name, reads, writes,
 * flushes and discards go to the array's data path. The array's own contract gives what
 * {@link NbdTarget} promises: a FUA write reaches every in-sync leg durably before it
 * completes, and a flush makes every earlier completed write durable on every in-sync leg.
 *
 * <p>Thread-safe (the array is).
 */
public final class Raid1ArrayTarget implements NbdTarget {
    private final Raid1Array array;

    public Raid1ArrayTarget(Raid1Array array) {
        this.array = Objects.requireNonNull(array, "array");
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

    @Override
    public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
        return array.tryWriteAsync(offset, src, fua);
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
        Throwable t = failure;
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (!(t instanceof Raid1Exception e)) return NbdError.EIO;
        return switch (e.code()) {
            case UNALIGNED, BAD_BUFFER, INVALID -> NbdError.EINVAL;
            case OUT_OF_RANGE -> NbdError.ENOSPC;
            case READ_ONLY -> NbdError.EPERM;
            case CLOSED -> NbdError.ESHUTDOWN;
            default -> NbdError.EIO;
        };
    }

    @Override
    public String toString() {
        return "Raid1ArrayTarget[" + array.name() + "]";
    }
}
