package org.clustermd.cluster.nbd;

import java.util.Objects;
import org.clustermd.cluster.ClusteredArray;

/**
 * A {@link ClusteredArray} as an NBD export, so the node daemon serves NBD from the embedding
 * API (docs/design.md §5): the export name is the array name; I/O goes to the array's
 * CompletableFuture forms, whose FUA and flush promises are those {@link NbdTarget} needs.
 * Failures map to NBD errors as {@link Raid1ArrayTarget} maps them. {@code tryWrite} is the
 * engine's {@link org.clustermd.raid1.Raid1Array#tryWriteAsync}: issued from the network
 * thread when nothing waits.
 *
 * <p>Thread-safe (the array is).
 */
public final class ClusteredArrayTarget extends ArrayTarget {
    public ClusteredArrayTarget(ClusteredArray array) {
        super(
                Objects.requireNonNull(array, "array")::name,
                array::size,
                array::logicalBlockSize,
                array::readAsync,
                array::writeAsync,
                array.engine()::tryWriteAsync,
                array::flushAsync,
                array::discardAsync);
    }
}
