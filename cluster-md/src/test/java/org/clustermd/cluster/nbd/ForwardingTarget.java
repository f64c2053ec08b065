package org.clustermd.cluster.nbd;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;

/**
 * A target that passes every call to another, for tests that watch or steer a few calls of a
 * real array's target and leave the rest as they are.
 */
abstract class ForwardingTarget implements NbdTarget {
    final NbdTarget array;

    ForwardingTarget(NbdTarget array) {
        this.array = array;
    }

    @Override
    public String name() {
        return array.name();
    }

    @Override
    public long size() {
        return array.size();
    }

    @Override
    public int logicalBlockSize() {
        return array.logicalBlockSize();
    }

    @Override
    public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        return array.read(offset, dst);
    }

    @Override
    public CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        return array.write(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
        return array.tryWrite(offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> flush() {
        return array.flush();
    }

    @Override
    public CompletableFuture<Void> trim(long offset, long length) {
        return array.trim(offset, length);
    }

    @Override
    public NbdError errorOf(Throwable failure) {
        return array.errorOf(failure);
    }
}
