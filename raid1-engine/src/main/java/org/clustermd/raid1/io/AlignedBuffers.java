package org.clustermd.raid1.io;

import java.nio.ByteBuffer;

/**
 * Allocates direct buffers whose address is aligned to 4 KiB, the alignment O_DIRECT needs on
 * every device here (a logical block is 512 or 4096 bytes, and 4096 satisfies both).
 *
 * <p>The buffers come from {@link ByteBuffer#allocateDirect(int)}{@code .alignedSlice(4096)}:
 * plain JDK memory, freed by the garbage collector, usable by jnr-posix and libaio without a
 * copy. See the package documentation for why chronicle-bytes is not used here. Allocation is
 * not cheap (it zeroes and registers a cleaner): long-lived I/O paths allocate once and reuse.
 *
 * <p>Stateless and thread-safe.
 */
public final class AlignedBuffers {
    /** The alignment of every buffer returned, in bytes. */
    public static final int ALIGNMENT = 4096;

    private AlignedBuffers() {}

    /**
     * Returns a zeroed direct buffer of exactly {@code size} bytes (position 0, limit = capacity
     * = size) whose first byte is 4 KiB-aligned.
     *
     * @throws IllegalArgumentException if size is negative or too large for one buffer
     */
    public static ByteBuffer allocate(int size) {
        if (size < 0 || size > Integer.MAX_VALUE - 2 * ALIGNMENT) {
            throw new IllegalArgumentException("buffer size out of range: " + size);
        }
        // alignedSlice trims both ends to the alignment, so leave a whole unit of slack
        int rounded = (size + ALIGNMENT - 1) & -ALIGNMENT;
        ByteBuffer raw = ByteBuffer.allocateDirect(rounded + ALIGNMENT);
        return raw.alignedSlice(ALIGNMENT).slice(0, size);
    }

    /**
     * True when {@code buf} is direct and its address at {@code buf.position()} is a multiple of
     * {@code alignment} (a power of two).
     */
    public static boolean isAligned(ByteBuffer buf, int alignment) {
        if (!buf.isDirect()) {
            return false;
        }
        if (buf.capacity() == 0) {
            // alignmentOffset is not defined on an empty buffer; nothing will be transferred
            return true;
        }
        int index = Math.min(buf.position(), buf.capacity() - 1);
        return buf.alignmentOffset(index, alignment) == 0;
    }
}
