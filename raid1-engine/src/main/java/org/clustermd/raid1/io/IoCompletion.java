package org.clustermd.raid1.io;

/**
 * Where a device reports the end of a request issued with
 * {@link BlockDevice#writeAsync(long, java.nio.ByteBuffer, boolean, IoCompletion, int)}: the
 * callback form of the async API, for the array's hot path, which would otherwise allocate a
 * future, its completion node and a lambda per leg per write (docs/datapath-cost.md). The tag
 * is the caller's (the mirrored write passes the leg's index), so one object can receive the
 * ends of several requests.
 *
 * <p>Implementations are called on the device's completion thread (an engine thread: the rules
 * of {@link EngineThread} apply; or the submitting thread itself when it reaps its own requests
 * through an {@link AioPoller}, under the same rules), or on the caller's thread for a request
 * refused at once; they must not throw.
 */
@FunctionalInterface
public interface IoCompletion {
    /** The request tagged {@code tag} ended: {@code failure} is null on success. */
    void completed(int tag, Throwable failure);
}
