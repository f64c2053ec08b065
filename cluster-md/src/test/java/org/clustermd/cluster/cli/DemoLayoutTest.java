package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Arrays;
import java.util.HashSet;
import java.util.Set;
import org.clustermd.raid1.verify.StampedBlock;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The demo's block assignments: who writes which 4 KiB block of the array. */
class DemoLayoutTest {
    private static final long CHUNK = 1 << 20;
    private static final int NODES = 3;
    private static final long CHUNK_BLOCKS = CHUNK / StampedBlock.SIZE;

    /** Each array block's writer, -1 for none; fails on a block assigned twice or outside the array. */
    private static int[] owners(DemoLayout layout, long arrayBytes) {
        int[] owner = new int[(int) (arrayBytes / StampedBlock.SIZE)];
        Arrays.fill(owner, -1);
        for (int node = 0; node < NODES; node++) {
            DemoLayout.Assignment a = layout.assign(node, NODES, arrayBytes, CHUNK);
            for (long i = 0; i < a.blocks(); i++) {
                long b = a.arrayBlock(i);
                assertThat(b).as("node %d block %d", node, i).isBetween(0L, owner.length - 1L);
                assertThat(owner[(int) b])
                        .as("array block %d has one writer", b)
                        .isEqualTo(-1);
                owner[(int) b] = node;
            }
        }
        return owner;
    }

    /** A write of run(i) blocks from the i-th stays contiguous in the array and inside the node's share. */
    private static void runsAreContiguous(DemoLayout layout, long arrayBytes) {
        for (int node = 0; node < NODES; node++) {
            DemoLayout.Assignment a = layout.assign(node, NODES, arrayBytes, CHUNK);
            for (long i = 0; i < a.blocks(); i += 5) {
                long run = a.run(i);
                assertThat(run).isPositive();
                assertThat(i + run).isLessThanOrEqualTo(a.blocks());
                for (long k = 0; k < Math.min(run, DemoWorkload.MAX_BLOCKS); k++) {
                    assertThat(a.arrayBlock(i + k)).isEqualTo(a.arrayBlock(i) + k);
                }
            }
        }
    }

    @ParameterizedTest
    @ValueSource(longs = {200_278_016L, 64L << 20, (64L << 20) + 12_288})
    void interleavedGivesEveryWholeChunkWritersOnEveryNodeAndNoBlockTwoWriters(long arrayBytes) {
        int[] owner = owners(DemoLayout.INTERLEAVED, arrayBytes);
        long stripes = owner.length / DemoLayout.STRIPE_BLOCKS;
        assertThat(Arrays.stream(owner).filter(o -> o >= 0).count())
                .as("every whole stripe is someone's")
                .isEqualTo(stripes * DemoLayout.STRIPE_BLOCKS);
        for (long c = 0; (c + 1) * CHUNK_BLOCKS <= owner.length; c++) {
            Set<Integer> writers = new HashSet<>();
            for (long b = c * CHUNK_BLOCKS; b < (c + 1) * CHUNK_BLOCKS; b++) writers.add(owner[(int) b]);
            assertThat(writers).as("writers of chunk %d", c).containsExactlyInAnyOrder(0, 1, 2);
        }
        runsAreContiguous(DemoLayout.INTERLEAVED, arrayBytes);
    }

    @ParameterizedTest
    @ValueSource(longs = {200_278_016L, 64L << 20, (64L << 20) + 12_288})
    void disjointGivesEachNodeOneRegionOfWholeChunks(long arrayBytes) {
        int[] owner = owners(DemoLayout.DISJOINT, arrayBytes);
        long region = arrayBytes / NODES / CHUNK * CHUNK;
        for (int node = 0; node < NODES; node++) {
            DemoLayout.Assignment a = DemoLayout.DISJOINT.assign(node, NODES, arrayBytes, CHUNK);
            assertThat(a.arrayBlock(0) * StampedBlock.SIZE).isEqualTo(node * region);
            assertThat(a.blocks() * StampedBlock.SIZE).isEqualTo(region);
        }
        for (long c = 0; (c + 1) * CHUNK_BLOCKS <= owner.length; c++) {
            Set<Integer> writers = new HashSet<>();
            for (long b = c * CHUNK_BLOCKS; b < (c + 1) * CHUNK_BLOCKS; b++) writers.add(owner[(int) b]);
            assertThat(writers).as("writers of chunk %d", c).hasSizeLessThanOrEqualTo(1);
        }
        runsAreContiguous(DemoLayout.DISJOINT, arrayBytes);
    }

    @ParameterizedTest
    @ValueSource(strings = {"DISJOINT", "INTERLEAVED"})
    void anArrayTooSmallToShareIsRefused(String layout) {
        assertThatThrownBy(() -> DemoLayout.valueOf(layout).assign(0, NODES, 32 * 1024, CHUNK))
                .isInstanceOf(IllegalArgumentException.class);
    }
}
