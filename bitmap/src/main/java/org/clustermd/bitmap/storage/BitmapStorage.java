package org.clustermd.bitmap.storage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The bitmap area of one array: a byte range that the bitmap reads, writes and makes durable.
 * Offsets are relative to the start of the area; the caller of the bitmap decides where the
 * area sits (md v1.2 puts it at the superblock plus {@code bitmap_offset} sectors, which mdadm
 * makes byte 8192 of each leg), the bitmap never knows.
 *
 * <p>raid1-engine implements this over its legs, as md does in {@code write_sb_page} and
 * {@code read_sb_page}: a write goes to every in-sync leg, a read comes from any good leg (never
 * from one still being recovered, docs/lessons.md §12), {@link #flush()} returns when every leg that took
 * the write has made it durable. A leg that fails is the implementation's business (fail the
 * leg, carry on with the others); an {@link IOException} means the bitmap could not be made
 * durable anywhere, and the bitmap then refuses the writes that needed it.
 *
 * <h2>Contract</h2>
 * <ul>
 *   <li>Every {@code offset} and every buffer length is a multiple of {@link #BLOCK_SIZE}, and
 *       {@code offset + length <= size()}. The bitmap only passes buffers made by
 *       {@link #allocate(int)} (direct, 4 KiB-aligned), so an implementation may use
 *       {@code O_DIRECT}.</li>
 *   <li>{@link #read} fills all of {@code dst.remaining()}; {@link #write} writes all of
 *       {@code src.remaining()} and must not keep a reference to {@code src} after it returns.
 *       The buffers' position and limit are unspecified afterwards.</li>
 *   <li>A write is durable only once a later {@link #flush()} has returned. Before that it may
 *       be lost or partly kept, in 512-byte units; the bitmap is built so that any such mix is
 *       safe.</li>
 *   <li>A read returns the latest write to each byte, flushed or not.</li>
 *   <li>An implementation must not call back into the bitmap from these methods (they run in
 *       the middle of a group-commit round; a nested flush would wait for itself). Marking a
 *       leg faulty, or {@code setDegraded}, is fine.</li>
 * </ul>
 *
 * <p>Thread-safety: implementations must accept concurrent calls. One open bitmap writes its
 * own slot one round at a time, but another thread may examine or clear another slot of the
 * same area ({@code copyFromSlot}) meanwhile.
 */
public interface BitmapStorage extends Closeable {

    /** The unit of every offset and length: md writes bitmap pages of 4 KiB. */
    int BLOCK_SIZE = 4096;

    /** A name for messages and thread names, e.g. the leg path or the array name. */
    String name();

    /** Bytes available to the bitmap area, a multiple of {@link #BLOCK_SIZE}. */
    long size();

    /** Reads {@code dst.remaining()} bytes at {@code offset} into {@code dst}. */
    void read(long offset, ByteBuffer dst) throws IOException;

    /** Writes {@code src.remaining()} bytes at {@code offset}; durable after the next flush. */
    void write(long offset, ByteBuffer src) throws IOException;

    /** Makes every completed write durable (fsync / REQ_PREFLUSH). */
    void flush() throws IOException;

    /** Releases the storage; the bitmap never closes a storage it was given. */
    @Override
    void close() throws IOException;

    /**
     * A zeroed, direct, little-endian buffer of {@code bytes} bytes whose address is aligned to
     * {@link #BLOCK_SIZE} (what {@code O_DIRECT} needs).
     */
    static ByteBuffer allocate(int bytes) {
        if (bytes < 0 || bytes % BLOCK_SIZE != 0) {
            throw new IllegalArgumentException("buffer size " + bytes + " is not a multiple of " + BLOCK_SIZE);
        }
        ByteBuffer raw = ByteBuffer.allocateDirect(bytes + BLOCK_SIZE);
        return raw.alignedSlice(BLOCK_SIZE).limit(bytes).slice().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * The range check every implementation makes on a read or write: {@code [offset, +length)}
     * block-aligned and inside an area of {@code areaSize} bytes. Written so that no sum can
     * overflow ({@code offset > areaSize - length}, never {@code offset + length > areaSize}).
     *
     * @param what the storage's name, for the message
     * @throws IllegalArgumentException if the range is not aligned or not inside the area
     */
    static void checkRange(String what, long offset, int length, long areaSize) {
        if (offset < 0
                || length < 0
                || offset % BLOCK_SIZE != 0
                || length % BLOCK_SIZE != 0
                || offset > areaSize - length) {
            throw new IllegalArgumentException(what + ": bitmap I/O [" + offset + ", +" + length
                    + ") is not block-aligned inside the " + areaSize + "-byte area");
        }
    }
}
