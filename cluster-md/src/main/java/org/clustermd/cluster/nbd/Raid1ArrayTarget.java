package org.clustermd.cluster.nbd;

import java.util.Objects;
import org.clustermd.raid1.Raid1Array;

/**
 * A {@link Raid1Array} as an NBD export: the export name is the array name, reads, writes,
 * flushes and discards go to the array's data path. The array's own contract gives what
 * {@link NbdTarget} promises: a FUA write reaches every in-sync leg durably before it
 * completes, and a flush makes every earlier completed write durable on every in-sync leg.
 *
 * <p>Thread-safe (the array is).
 */
public final class Raid1ArrayTarget extends ArrayTarget {
    public Raid1ArrayTarget(Raid1Array array) {
        super(
                Objects.requireNonNull(array, "array")::name,
                array::size,
                array::logicalBlockSize,
                array::readAsync,
                array::writeAsync,
                array::tryWriteAsync,
                array::flushAsync,
                array::discardAsync);
    }
}
