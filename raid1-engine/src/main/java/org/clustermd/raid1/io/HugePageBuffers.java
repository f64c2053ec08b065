package org.clustermd.raid1.io;

import java.nio.ByteBuffer;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * Direct I/O buffers cut from one region that the kernel is asked to back with transparent huge
 * pages ({@code madvise(MADV_HUGEPAGE)}), so each buffer lies on physically contiguous memory.
 *
 * <p>Why (docs/lessons.md §70): the kernel hands an O_DIRECT write to the device as one
 * scatter-gather segment per physically contiguous run of the buffer's pages, and a device
 * takes a bounded number of segments per request and in flight. A 1 MiB buffer from
 * {@link AlignedBuffers#allocate} lies on about 250 scattered 4 KiB pages: on a virtio disk
 * without indirect descriptors (256 ring slots, 254 segments per request) such a write is split
 * in two requests and fills the whole ring, so the device holds one or two requests at a time
 * whatever the queue depth. On huge pages the same write is one segment and the device holds all
 * of them.
 *
 * <p>When the kernel has no transparent huge pages (turned off, or none free) the buffers are
 * ordinary zeroed direct memory: correct, only as scattered as {@link AlignedBuffers}'. Use it
 * for the long-lived buffers of a large-request path, allocated once: the region is rounded up
 * to whole 2 MiB pages.
 *
 * <p>Stateless and thread-safe.
 */
public final class HugePageBuffers {
    /** The transparent huge page size of x86_64 and of arm64 with 4 KiB pages. */
    public static final int HUGE_PAGE = 2 << 20;

    private static final int MADV_DONTNEED = 4;
    private static final int MADV_HUGEPAGE = 14;

    private HugePageBuffers() {}

    /**
     * Returns {@code count} zeroed direct buffers of exactly {@code size} bytes each (position 0,
     * limit = capacity = size), 4 KiB-aligned, adjacent in one region aligned to
     * {@link #HUGE_PAGE}; a buffer of at most {@link #HUGE_PAGE} bytes whose size divides it never
     * straddles two huge pages.
     *
     * @throws IllegalArgumentException if count is below 1, size is not a positive multiple of
     *     {@link AlignedBuffers#ALIGNMENT}, or the region is too large for one buffer
     */
    public static ByteBuffer[] allocate(int count, int size) {
        if (count < 1 || size < 1 || size % AlignedBuffers.ALIGNMENT != 0) {
            throw new IllegalArgumentException(
                    "need count >= 1 and a size in whole 4 KiB pages: " + count + " x " + size);
        }
        long bytes = (long) count * size;
        long region = (bytes + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE;
        if (region + HUGE_PAGE > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("buffer region too large: " + count + " x " + size);
        }
        // a whole huge page of slack, so the aligned region lies inside this allocation: madvise
        // then touches only memory this buffer owns
        ByteBuffer raw = ByteBuffer.allocateDirect((int) (region + HUGE_PAGE));
        ByteBuffer aligned = raw.alignedSlice(HUGE_PAGE).slice(0, (int) region);
        backWithHugePages(aligned);
        ByteBuffer[] out = new ByteBuffer[count];
        for (int i = 0; i < count; i++) out[i] = aligned.slice(i * size, size);
        return out;
    }

    /**
     * Asks for huge pages on {@code region}, then drops the 4 KiB pages the JDK's zeroing already
     * faulted in, so the next touch faults a huge page; touches every page now, so no write waits
     * for a fault. Without huge pages the dropped pages come back as zeroed 4 KiB pages.
     */
    private static void backWithHugePages(ByteBuffer region) {
        if (NativeIo.isNative()) {
            long address = Pointer.wrap(Runtime.getSystemRuntime(), region).address();
            // the second call only when the first was taken: dropping pages for nothing is harmless
            // but pointless
            if (NativeIo.madvise(address, region.capacity(), MADV_HUGEPAGE) == 0) {
                NativeIo.madvise(address, region.capacity(), MADV_DONTNEED);
            }
        }
        for (int p = 0; p < region.capacity(); p += AlignedBuffers.ALIGNMENT) region.put(p, (byte) 0);
    }
}
