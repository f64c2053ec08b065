package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.clustermd.raid1.io.AlignedBuffers;
import org.junit.jupiter.api.Test;

/**
 * The export's {@link BufferPool}: buffers of the asked length, aligned for O_DIRECT, never
 * handed out twice at once, reused once given back; and a buffer of more than a page lies on
 * transparent huge pages, so a 1 MiB write through the export is one segment for the disk
 * (docs/lessons.md §70). The kernel's {@code /proc/self/smaps} is the witness for the pages.
 */
class BufferPoolTest {
    private static final int MIB = 1 << 20;
    private static final Path THP_ENABLED = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

    @Test
    void buffersAreAlignedOfTheAskedLengthDistinctWhileHeldAndReusedWhenGivenBack() {
        BufferPool pool = new BufferPool(32 * MIB, 64L * MIB);
        int[] lengths = {512, 4096, 5000, 65536, MIB, MIB, MIB + 4096, 32 * MIB};
        Map<ByteBuffer, Boolean> held = new IdentityHashMap<>();
        List<ByteBuffer> all = new ArrayList<>();
        for (int length : lengths) {
            ByteBuffer b = pool.acquire(length);
            assertThat(b.isDirect()).isTrue();
            assertThat(b.position()).isZero();
            assertThat(b.limit()).isEqualTo(length);
            assertThat(b.capacity()).isGreaterThanOrEqualTo(length);
            assertThat(AlignedBuffers.isAligned(b, AlignedBuffers.ALIGNMENT)).isTrue();
            assertThat(held.put(b, true)).as("handed out twice").isNull();
            all.add(b);
        }
        // buffers held at once never overlap, even those cut from one region
        for (int i = 0; i < all.size(); i++) {
            for (int j = i + 1; j < all.size(); j++) {
                long a0 = address(all.get(i));
                long b0 = address(all.get(j));
                assertThat(a0 + all.get(i).capacity() <= b0 || b0 + all.get(j).capacity() <= a0)
                        .as("buffers %d and %d overlap", i, j)
                        .isTrue();
            }
        }
        // given back, a buffer may be handed out again, and one still held never is
        ByteBuffer b = all.get(4);
        pool.release(b);
        held.remove(b);
        ByteBuffer again = pool.acquire(MIB);
        assertThat(again.limit()).isEqualTo(MIB);
        assertThat(held).doesNotContainKey(again);
        ByteBuffer page = all.get(1);
        pool.release(page);
        assertThat(pool.acquire(4096)).isSameAs(page);
    }

    @Test
    void aBufferOfMoreThanAPageLiesOnTransparentHugePages() throws IOException {
        // with transparent huge pages off the buffers are ordinary pages, which is correct, only
        // slower for the disk: nothing to check then, and the run says why it checked nothing
        assumeTrue(
                Files.exists(THP_ENABLED) && !Files.readString(THP_ENABLED).contains("[never]"),
                "transparent huge pages are off on this machine; nothing to check");
        BufferPool pool = new BufferPool(32 * MIB, 64L * MIB);
        for (int length : new int[] {64 << 10, MIB}) {
            ByteBuffer b = pool.acquire(length);
            long start = address(b);
            assertThat(hugeBytesOfMappingHolding(start))
                    .as("huge pages under a %d-byte buffer at %x", length, start)
                    .isGreaterThanOrEqualTo(b.capacity());
        }
    }

    /** {@code AnonHugePages} of the {@code /proc/self/smaps} entry whose range holds {@code address}. */
    private static long hugeBytesOfMappingHolding(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        boolean inside = false;
        for (String l : lines) {
            if (l.matches("^[0-9a-f]+-[0-9a-f]+ .*")) {
                String[] range = l.substring(0, l.indexOf(' ')).split("-");
                inside = Long.parseUnsignedLong(range[0], 16) <= address
                        && address < Long.parseUnsignedLong(range[1], 16);
            } else if (inside && l.startsWith("AnonHugePages:")) {
                return Long.parseLong(l.replaceAll("[^0-9]", "")) << 10;
            }
        }
        throw new AssertionError("no mapping holds address " + Long.toHexString(address));
    }

    private static long address(ByteBuffer b) {
        return Pointer.wrap(Runtime.getSystemRuntime(), b).address();
    }
}
