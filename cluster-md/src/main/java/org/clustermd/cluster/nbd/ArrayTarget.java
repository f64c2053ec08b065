package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.function.IntSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.clustermd.raid1.Raid1Exception;

/**
 * The part {@link Raid1ArrayTarget} and {@link ClusteredArrayTarget} share: an array's data
 * path, given as its method references, as an {@link NbdTarget}, and the mapping of the
 * engine's failures to NBD errors.
 *
 * <p>Thread-safe when the array is.
 */
abstract class ArrayTarget implements NbdTarget {
    /** An array's {@code readAsync(offset, dst)}. */
    @FunctionalInterface
    interface Read {
        CompletableFuture<Void> apply(long offset, ByteBuffer dst);
    }

    /** An array's {@code writeAsync(offset, src, fua)} or {@code tryWriteAsync(offset, src, fua)}. */
    @FunctionalInterface
    interface Write {
        CompletableFuture<Void> apply(long offset, ByteBuffer src, boolean fua);
    }

    /** An array's {@code discardAsync(offset, length)}. */
    @FunctionalInterface
    interface Trim {
        CompletableFuture<Void> apply(long offset, long length);
    }

    private final Supplier<String> name;
    private final LongSupplier size;
    private final IntSupplier logicalBlockSize;
    private final Read read;
    private final Write write;
    private final Write tryWrite;
    private final Supplier<CompletableFuture<Void>> flush;
    private final Trim trim;

    ArrayTarget(
            Supplier<String> name,
            LongSupplier size,
            IntSupplier logicalBlockSize,
            Read read,
            Write write,
            Write tryWrite,
            Supplier<CompletableFuture<Void>> flush,
            Trim trim) {
        this.name = name;
        this.size = size;
        this.logicalBlockSize = logicalBlockSize;
        this.read = read;
        this.write = write;
        this.tryWrite = tryWrite;
        this.flush = flush;
        this.trim = trim;
    }

    @Override
    public String name() {
        return name.get();
    }

    @Override
    public long size() {
        return size.getAsLong();
    }

    @Override
    public int logicalBlockSize() {
        return logicalBlockSize.getAsInt();
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return read.apply(offset, dst);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return write.apply(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
        return tryWrite.apply(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return flush.get();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length) {
        return trim.apply(offset, length);
    }

    /** A {@link Raid1Exception} (possibly wrapped by a future) by its code; anything else is EIO. */
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
        return getClass().getSimpleName() + "[" + name() + "]";
    }
}
