package org.clustermd.raid1.io;

import java.io.Closeable;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * One leg's storage: a file or a block device addressed in bytes, read and written in whole
 * logical blocks from aligned off-heap buffers (the md rdev's bdev, seen from user space).
 *
 * <h2>Requests</h2>
 * <ul>
 *   <li>A request covers {@code buf.remaining()} bytes starting at {@code buf.position()}. The
 *       device never changes the buffer's position, limit or mark, so one source buffer may be
 *       handed to several legs at once (the mirrored write does exactly that). The caller must
 *       not touch the buffer's contents until the returned future completes.</li>
 *   <li>{@code offset}, the length and the buffer's address at its position must each be a
 *       multiple of {@link #logicalBlockSize()}; the buffer must be direct (see
 *       {@link AlignedBuffers}). Otherwise the request fails with
 *       {@link BlockDeviceException.Code#UNALIGNED} or {@link BlockDeviceException.Code#BAD_BUFFER}
 *       and nothing is transferred.</li>
 *   <li>{@code offset + length} must not exceed {@link #size()}: otherwise
 *       {@link BlockDeviceException.Code#OUT_OF_RANGE} and nothing is transferred. A zero-length
 *       request completes at once.</li>
 *   <li>A request either transfers every byte or fails with a {@link BlockDeviceException}
 *       ({@link BlockDeviceException.Code#IO_ERROR} for what the device reported). After a failed
 *       write the addressed blocks hold unknown contents (old, new, or a mix per block).</li>
 *   <li>A completed write is visible to every later read on any thread. It is durable only after
 *       a later {@link #flushAsync()} completes, or at once when written with {@code fua}.
 *       A flush makes durable every write that completed before the flush was issued.</li>
 * </ul>
 *
 * <h2>Asynchrony</h2>
 * The {@code ...Async} methods never block the caller for the duration of the I/O and never
 * throw: every failure, including argument errors, completes the future exceptionally with a
 * {@link BlockDeviceException}. Each device has a queue depth of its own (its own threads, or its
 * own share of a kernel AIO context), so a slow leg does not hold up the others; completion stages run on the
 * device's completion thread and must not block. The blocking forms are {@code default} wrappers
 * that an implementation may override with a cheaper path (BookKeeper's WriteHandle style).
 *
 * <h2>Accounting</h2>
 * {@link #stats()} counts every request exactly once, on completion, successful or not; the
 * in-flight count returns to 0 when the device is idle.
 *
 * <p>Implementations are thread-safe: any number of threads may issue requests concurrently.
 * Requests in flight at the same time complete in no particular order, and overlapping writes in
 * flight at the same time leave the overlap in an unspecified one of the written states (as a
 * disk does); the raid1 engine never issues those.
 */
public interface BlockDevice extends Closeable {

    /** 512: the unit md counts in ({@code sector_t}); independent of the logical block size. */
    int SECTOR_SIZE = 512;

    /** A stable name for messages and statistics, normally the path the device was opened by. */
    String name();

    /** Usable size in bytes, a multiple of {@link #logicalBlockSize()}; fixed while open. */
    long size();

    /** The unit of alignment for offsets, lengths and buffer addresses (512 or 4096). */
    int logicalBlockSize();

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    CompletableFuture<Void> readAsync(long offset, ByteBuffer dst);

    /**
     * Writes {@code src.remaining()} bytes of {@code src} at {@code offset}.
     *
     * @param fua force unit access: the write is durable when the future completes (md's REQ_FUA;
     *     it makes no earlier write durable)
     */
    CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua);

    /**
     * {@link #writeAsync(long, ByteBuffer, boolean)} reporting its end to {@code done} with
     * {@code tag} instead of through a future. The default goes through the future form, so a
     * wrapper that overrides that form keeps its behaviour; a device that can report directly
     * overrides this one.
     */
    default void writeAsync(long offset, ByteBuffer src, boolean fua, IoCompletion done, int tag) {
        writeAsync(offset, src, fua).whenComplete((v, t) -> done.completed(tag, t));
    }

    /** Same as {@code writeAsync(offset, src, false)}. */
    default CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
        return writeAsync(offset, src, false);
    }

    /** Makes every write completed before this call durable (fdatasync, REQ_PREFLUSH). */
    CompletableFuture<Void> flushAsync();

    /** Blocking form of {@link #readAsync}. */
    default void read(long offset, ByteBuffer dst) throws IOException {
        await(readAsync(offset, dst));
    }

    /** Blocking form of {@link #writeAsync(long, ByteBuffer, boolean)}. */
    default void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        await(writeAsync(offset, src, fua));
    }

    /** Blocking form of {@link #writeAsync(long, ByteBuffer)}. */
    default void write(long offset, ByteBuffer src) throws IOException {
        write(offset, src, false);
    }

    /** Blocking form of {@link #flushAsync()}. */
    default void flush() throws IOException {
        await(flushAsync());
    }

    /** Counters since open, in /proc/diskstats terms. */
    DiskStats stats();

    /**
     * Waits for requests in flight, then releases the device. Requests issued after close fail
     * with {@link BlockDeviceException.Code#CLOSED}. Idempotent.
     */
    @Override
    void close() throws IOException;

    /**
     * Waits for a device future and rethrows its failure as the {@link IOException} it carries.
     * An interrupt is turned into {@link InterruptedIOException} with the interrupt flag kept;
     * the request itself goes on. What the calling thread's {@link IoPlug#batch} holds is
     * submitted first.
     */
    static void await(Future<?> future) throws IOException {
        // the future may be a write this thread's batch still holds (docs/lessons.md §52)
        IoPlug.flushHeld();
        try {
            future.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            InterruptedIOException ie = new InterruptedIOException("interrupted while waiting for I/O");
            ie.initCause(e);
            throw ie;
        } catch (ExecutionException e) {
            throw asIOException(e.getCause());
        } catch (CancellationException e) {
            throw new IOException("I/O cancelled", e);
        }
    }

    /** Unwraps {@link CompletionException} layers and returns the failure as an IOException. */
    static IOException asIOException(Throwable t) {
        Throwable c = t;
        while ((c instanceof CompletionException || c instanceof ExecutionException) && c.getCause() != null) {
            c = c.getCause();
        }
        if (c instanceof IOException io) {
            return io;
        }
        if (c instanceof RuntimeException re) {
            throw re;
        }
        if (c instanceof Error err) {
            throw err;
        }
        return new IOException(c);
    }
}
