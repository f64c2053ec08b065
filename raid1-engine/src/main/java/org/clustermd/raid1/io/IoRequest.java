package org.clustermd.raid1.io;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * One request in flight on a {@link PosixBlockDevice} (the bio of this layer): what to do, where,
 * and the future to complete (or the {@link IoCompletion} to tell). Created on the submitting thread, completed exactly once by the
 * engine that ran it.
 *
 * <p>Not thread-safe by itself: the engines publish it through a safe hand-off (executor queue,
 * atomic slot table) and only one thread completes it.
 */
final class IoRequest {
    enum Op {
        READ,
        WRITE,
        FLUSH
    }

    final Op op;
    final long offset;
    final ByteBuffer buf;
    final int length;
    final boolean fua;
    final long startNanos;
    final CompletableFuture<Void> future;
    /** Told instead of a future (the callback form); null otherwise. */
    final IoCompletion completion;

    final int tag;

    IoRequest(
            Op op,
            long offset,
            ByteBuffer buf,
            int length,
            boolean fua,
            long startNanos,
            CompletableFuture<Void> future,
            IoCompletion completion,
            int tag) {
        this.op = op;
        this.offset = offset;
        this.buf = buf;
        this.length = length;
        this.fua = fua;
        this.startNanos = startNanos;
        this.future = future;
        this.completion = completion;
        this.tag = tag;
    }
}
