package org.clustermd.raid1;

import java.util.concurrent.TimeUnit;

/**
 * Whether this node may write its legs now: in a cluster, the lock manager's lease (before its
 * deadline the session cannot have expired, so no other node can have been granted this node's
 * bitmap lock and be recovering its slot). The engine asks {@link #valid()} immediately before
 * every leg write and holds the write while it is false (see the package documentation, "The
 * write lease").
 *
 * <p>Thread-safe. {@link #valid()}, {@link #deadlineNanos()} and {@link #revoked()} never block,
 * allocate nothing and make no lock-manager call: they are on the data path.
 */
public interface WriteLease {

    /** The lease of a node alone with its legs: always valid. */
    WriteLease ALWAYS = new WriteLease() {
        @Override
        public boolean valid() {
            return true;
        }

        @Override
        public long deadlineNanos() {
            return System.nanoTime() + TimeUnit.DAYS.toNanos(365);
        }

        @Override
        public boolean awaitValid(long timeoutNanos) {
            return true;
        }

        @Override
        public boolean revoked() {
            return false;
        }

        @Override
        public String toString() {
            return "WriteLease.ALWAYS";
        }
    };

    /** True while a leg write may be issued. Never blocks: a volatile read and a clock compare. */
    boolean valid();

    /**
     * The {@link System#nanoTime()} value at which the lease runs out if it is not renewed (in
     * the past when it is not valid); for messages and figures, compare with
     * {@code System.nanoTime() - deadline < 0}.
     */
    long deadlineNanos();

    /**
     * Waits, at most {@code timeoutNanos}, until {@link #valid()}; woken when the lease is
     * renewed or {@link #revoked()}. The wait never depends on an engine thread.
     *
     * @return true when valid; false when the wait timed out or the lease is revoked
     */
    boolean awaitValid(long timeoutNanos) throws InterruptedException;

    /**
     * True once the lease can never be valid again (the session is lost or closed): held writes
     * are failed and the array fences itself.
     */
    boolean revoked();
}
