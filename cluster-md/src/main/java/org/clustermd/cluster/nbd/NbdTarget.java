package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * What an NBD export serves: a block device with a size, a logical block size and
 * {@link CompletableFuture}-based I/O. {@link Raid1ArrayTarget} puts a {@code Raid1Array}
 * behind it.
 *
 * <p>The server only calls the I/O methods with requests it has checked: offsets and lengths
 * are multiples of {@link #logicalBlockSize()}, lengths are positive, and the range lies inside
 * {@link #size()}. A request covers {@code buf.remaining()} bytes from {@code buf.position()};
 * the buffers are 4 KiB-aligned direct buffers, left alone by the server until the future
 * completes. The methods may block the calling thread briefly (the server calls them on a
 * submission thread of its own, never on a network thread), except {@link #tryWrite}, which
 * the server calls on its network thread and which must never block; all report failures
 * through the future, never by throwing.
 *
 * <p>Durability contract, which makes the export's {@code NBD_FLAG_CAN_MULTI_CONN} honest: a
 * {@link #flush()} returns only when every write that completed before the call, from any
 * caller, is durable; a write with {@code fua} completes only when its data is durable. There
 * is no cache between callers, so a completed write is visible to every later read.
 *
 * <p>Implementations must be thread-safe.
 */
public interface NbdTarget {
    /** The export name clients ask for (the array name). */
    String name();

    /** The export size in bytes, a multiple of {@link #logicalBlockSize()}. */
    long size();

    /** The unit of every offset and length: a power of two from 512 to 65536. */
    int logicalBlockSize();

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    CompletableFuture<Void> read(long offset, ByteBuffer dst);

    /** Writes {@code src.remaining()} bytes at {@code offset}; with {@code fua}, durable on completion. */
    CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua);

    /**
     * {@link #write} for a caller that must never block (the server calls it on its network
     * thread): the write's future when it could be issued without waiting, or null, with
     * nothing done, when it would have to wait first; the server then calls {@link #write} on
     * its submission thread. The default never tries.
     */
    default CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
        return null;
    }

    /** Makes every write completed before the call durable. */
    CompletableFuture<Void> flush();

    /** Tells the device that {@code length} bytes at {@code offset} are no longer needed (may do nothing). */
    CompletableFuture<Void> trim(long offset, long length);

    /** The NBD error a failed future's cause maps to; EIO unless the implementation knows better. */
    default NbdError errorOf(Throwable failure) {
        return NbdError.EIO;
    }
}
