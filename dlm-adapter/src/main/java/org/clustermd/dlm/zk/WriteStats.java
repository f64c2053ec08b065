package org.clustermd.dlm.zk;

import java.util.concurrent.atomic.LongAdder;

/**
 * Counters of a lockspace's ZooKeeper writes, by kind and outcome: what the benchmarks and the
 * Cluster MBean report, and what a test reads to prove an operation cost one write.
 *
 * <p>Thread-safe.
 */
public final class WriteStats {
    final LongAdder plain = new LongAdder();
    final LongAdder cas = new LongAdder();
    final LongAdder conflicts = new LongAdder();
    final LongAdder electedPasses = new LongAdder();
    final LongAdder purges = new LongAdder();
    final LongAdder grantsBeforeReply = new LongAdder();
    final LongAdder unlocksBeforeReply = new LongAdder();

    /** Transactions without a version check (they only make the table less restrictive). */
    public long plainWrites() {
        return plain.sum();
    }

    /** Compare-and-set transactions (grants and queued conversions). */
    public long casWrites() {
        return cas.sum();
    }

    /** Transactions that lost a race (bad version, or a znode already renamed) and were replanned. */
    public long conflicts() {
        return conflicts.sum();
    }

    /** Grant passes this node wrote because the first grantable waiter was its own. */
    public long electedGrantPasses() {
        return electedPasses.sum();
    }

    /** Transactions that removed a departed member's locks. */
    public long purges() {
        return purges.sum();
    }

    /**
     * This node's grants that completed from the watch event of the transaction that granted
     * them while that transaction's reply was still on its way: ZooKeeper sends a transaction's
     * notifications before its reply on the same connection, so an uncontended grant never waits
     * for its reply (docs/lessons.md §53).
     */
    public long grantsBeforeReply() {
        return grantsBeforeReply.sum();
    }

    /**
     * This node's unlocks that completed from the watch event of their delete while the delete's
     * reply was still on its way, as a grant does (docs/lessons.md §71).
     */
    public long unlocksBeforeReply() {
        return unlocksBeforeReply.sum();
    }

    @Override
    public String toString() {
        return "plain=" + plainWrites() + " cas=" + casWrites() + " conflicts=" + conflicts() + " elected="
                + electedGrantPasses() + " purges=" + purges();
    }
}
