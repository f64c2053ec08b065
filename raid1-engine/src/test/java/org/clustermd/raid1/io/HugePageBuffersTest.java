package org.clustermd.raid1.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.junit.jupiter.api.Test;

/**
 * {@link HugePageBuffers}: the buffers are ordinary aligned, zeroed, disjoint direct buffers, and
 * they lie on transparent huge pages, so a 1 MiB O_DIRECT write from one is a single segment for
 * the device (docs/lessons.md §70). The kernel's own account of the mapping,
 * {@code /proc/self/smaps}, is the witness: {@code AnonHugePages} of the mapping that holds them.
 */
class HugePageBuffersTest {
    private static final int MIB = 1 << 20;
    private static final Path THP_ENABLED = Path.of("/sys/kernel/mm/transparent_hugepage/enabled");

    @Test
    void buffersAreAlignedZeroedDisjointAndOfTheAskedSize() {
        ByteBuffer[] bufs = HugePageBuffers.allocate(3, MIB);
        assertThat(bufs).hasSize(3);
        for (ByteBuffer b : bufs) {
            assertThat(b.isDirect()).isTrue();
            assertThat(b.position()).isZero();
            assertThat(b.limit()).isEqualTo(MIB);
            assertThat(b.capacity()).isEqualTo(MIB);
            assertThat(AlignedBuffers.isAligned(b, AlignedBuffers.ALIGNMENT)).isTrue();
            for (int i = 0; i < MIB; i += 512) assertThat(b.get(i)).isZero();
        }
        for (int i = 0; i < MIB; i++) bufs[1].put(i, (byte) 0x5a);
        for (int i = 0; i < MIB; i++) {
            assertThat(bufs[0].get(i)).isZero();
            assertThat(bufs[2].get(i)).isZero();
        }
        assertThat(address(bufs[1]) - address(bufs[0])).isEqualTo(MIB);
    }

    @Test
    void sizesOutsideWholePagesAreRefused() {
        assertThatThrownBy(() -> HugePageBuffers.allocate(0, MIB)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> HugePageBuffers.allocate(2, 1000)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> HugePageBuffers.allocate(1 << 12, MIB)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void theBuffersLieOnTransparentHugePages() throws IOException {
        // with transparent huge pages off the buffers are ordinary pages, which is correct, only
        // slower for the device: nothing to check then, and the run says why it checked nothing
        assumeTrue(
                Files.exists(THP_ENABLED) && !Files.readString(THP_ENABLED).contains("[never]"),
                "transparent huge pages are off on this machine (turn them on with 'echo madvise > " + THP_ENABLED
                        + "'); nothing to check");
        ByteBuffer[] bufs = HugePageBuffers.allocate(8, MIB);
        long start = address(bufs[0]);
        long end = address(bufs[7]) + MIB;
        Mapping m = mappingHolding(start);
        assertThat(m.end()).as("one mapping holds the whole region").isGreaterThanOrEqualTo(end);
        assertThat(m.anonHugeBytes())
                .as("huge pages under the 8 MiB of buffers, mapping %x-%x", m.start(), m.end())
                .isGreaterThanOrEqualTo(end - start);
    }

    private record Mapping(long start, long end, long anonHugeBytes) {}

    /** The {@code /proc/self/smaps} entry whose address range holds {@code address}. */
    private static Mapping mappingHolding(long address) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("/proc/self/smaps"));
        for (int i = 0; i < lines.size(); i++) {
            String head = lines.get(i);
            if (!head.matches("^[0-9a-f]+-[0-9a-f]+ .*")) continue;
            String[] range = head.substring(0, head.indexOf(' ')).split("-");
            long from = Long.parseUnsignedLong(range[0], 16);
            long to = Long.parseUnsignedLong(range[1], 16);
            if (address < from || address >= to) continue;
            for (int j = i + 1; j < lines.size() && !lines.get(j).matches("^[0-9a-f]+-[0-9a-f]+ .*"); j++) {
                String l = lines.get(j);
                if (l.startsWith("AnonHugePages:")) {
                    long kib = Long.parseLong(l.replaceAll("[^0-9]", ""));
                    return new Mapping(from, to, kib << 10);
                }
            }
            return new Mapping(from, to, 0);
        }
        throw new AssertionError("no mapping holds address " + Long.toHexString(address));
    }

    private static long address(ByteBuffer b) {
        return Pointer.wrap(Runtime.getSystemRuntime(), b).address();
    }
}
