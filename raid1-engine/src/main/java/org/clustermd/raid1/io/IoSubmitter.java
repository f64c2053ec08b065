package org.clustermd.raid1.io;

/**
 * The part of a {@link PosixBlockDevice} that keeps async requests in flight: an
 * {@link IoEngine} implementation. It must report each submitted request exactly once through
 * {@link PosixBlockDevice#finish(IoRequest, BlockDeviceException)}, possibly from inside
 * {@link #submit} when submission itself fails.
 *
 * <p>Implementations are thread-safe for concurrent {@code submit} calls.
 */
interface IoSubmitter {
    /** Starts {@code r}; may block only while every slot of the queue depth is taken. */
    void submit(IoRequest r);

    /** Releases threads and kernel resources; called once, after the last request finished. */
    void close();
}
