package org.clustermd.raid1.verify;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.clustermd.raid1.Raid1Array;

/**
 * What a {@link Workload} writes to and a {@link Verifier} reads from: the array's data path, or
 * anything with the same shape (an NBD client, a clustered array's embedding API).
 *
 * <p>Implementations must be thread-safe.
 */
public interface BlockTarget {

    /** Bytes addressable. */
    long size();

    CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua);

    CompletableFuture<Void> readAsync(long offset, ByteBuffer dst);

    CompletableFuture<Void> flushAsync();

    /** The data path of {@code array}. */
    static BlockTarget of(Raid1Array array) {
        return new BlockTarget() {
            @Override
            public long size() {
                return array.size();
            }

            @Override
            public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
                return array.writeAsync(offset, src, fua);
            }

            @Override
            public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
                return array.readAsync(offset, dst);
            }

            @Override
            public CompletableFuture<Void> flushAsync() {
                return array.flushAsync();
            }

            @Override
            public String toString() {
                return array.name();
            }
        };
    }
}
