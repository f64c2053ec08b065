package org.clustermd.cluster.cli;

import org.clustermd.raid1.verify.StampedBlock;

/**
 * How the demo shares the array's 4 KiB blocks among its nodes' writers, so that no block ever
 * has two writers (the verifier can then say whose write a block must hold):
 * <ul>
 *   <li>{@link #DISJOINT}: each node its own contiguous region, whole bitmap chunks, so a dead
 *       node's dirty chunks hold only its own writes;</li>
 *   <li>{@link #INTERLEAVED}: 64 KiB stripes dealt round-robin over the whole array, so every
 *       bitmap chunk has writers on every node: what a recovery or an initial resync under
 *       writes must get right. Not the default until the cluster has RESYNCING windows
 *       (docs/design.md §5 lists them as not there yet).</li>
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
enum DemoLayout {
    DISJOINT,
    INTERLEAVED;

    /** The stripe of {@link #INTERLEAVED}, in blocks: 64 KiB, the largest write the demo sends. */
    static final int STRIPE_BLOCKS = 16;

    /**
     * The blocks node {@code node} (0-based) of {@code nodes} writes in an array of
     * {@code arrayBytes} with bitmap chunks of {@code chunk} bytes.
     */
    Assignment assign(int node, int nodes, long arrayBytes, long chunk) {
        if (node < 0 || node >= nodes) throw new IllegalArgumentException("node " + node + " of " + nodes);
        long arrayBlocks = arrayBytes / StampedBlock.SIZE;
        return switch (this) {
            case DISJOINT -> {
                long region = arrayBytes / nodes / chunk * chunk;
                if (region == 0) throw new IllegalArgumentException("the array is smaller than a chunk per node");
                yield new Disjoint(node * region / StampedBlock.SIZE, region / StampedBlock.SIZE);
            }
            case INTERLEAVED -> {
                long stripes = arrayBlocks / STRIPE_BLOCKS;
                if (stripes < nodes) throw new IllegalArgumentException("the array is smaller than a stripe per node");
                yield new Interleaved(node, nodes, stripes);
            }
        };
    }

    /** The blocks one node writes, numbered 0..{@link #blocks()}-1 in array order. */
    sealed interface Assignment {
        /** How many blocks the node writes. */
        long blocks();

        /** The array block (4 KiB units) of the node's {@code i}-th block. */
        long arrayBlock(long i);

        /** How many of the node's blocks from the {@code i}-th on are contiguous in the array (at least 1). */
        long run(long i);

        /** For the demo's narration. */
        String describe();
    }

    /** A contiguous region of {@code blocks} blocks from array block {@code first}. */
    record Disjoint(long first, long blocks) implements Assignment {
        @Override
        public long arrayBlock(long i) {
            return first + i;
        }

        @Override
        public long run(long i) {
            return blocks - i;
        }

        @Override
        public String describe() {
            return "bytes [" + first * StampedBlock.SIZE + ", " + (first + blocks) * StampedBlock.SIZE + ")";
        }
    }

    /** Stripe {@code k} of the array's {@code stripes} belongs to node {@code k % nodes}. */
    record Interleaved(int node, int nodes, long stripes) implements Assignment {
        @Override
        public long blocks() {
            return (stripes - node + nodes - 1) / nodes * STRIPE_BLOCKS;
        }

        @Override
        public long arrayBlock(long i) {
            long stripe = i / STRIPE_BLOCKS * nodes + node;
            return stripe * STRIPE_BLOCKS + i % STRIPE_BLOCKS;
        }

        @Override
        public long run(long i) {
            return STRIPE_BLOCKS - i % STRIPE_BLOCKS;
        }

        @Override
        public String describe() {
            return "every " + nodes + "th " + STRIPE_BLOCKS * StampedBlock.SIZE / 1024 + " KiB stripe from stripe "
                    + node + " (" + blocks() * StampedBlock.SIZE + " bytes across the whole array)";
        }
    }
}
