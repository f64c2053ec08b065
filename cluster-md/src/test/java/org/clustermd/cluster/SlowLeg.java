package org.clustermd.cluster;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;

/**
 * A real leg that a test can make as slow as it likes: while {@link #stall()}ed, writes are
 * parked before they reach the device and stay in flight until {@link #resume()}. Only for
 * tests that need a request in flight for as long as they say.
 *
 * <p>Thread-safe.
 */
final class SlowLeg extends ForwardingBlockDevice {
    private final List<Runnable> parked = new ArrayList<>();
    private boolean stalled;

    SlowLeg(BlockDevice inner) {
        super(inner);
    }

    synchronized void stall() {
        stalled = true;
    }

    /** Issues every parked write and lets later ones through. */
    void resume() {
        List<Runnable> go;
        synchronized (this) {
            stalled = false;
            go = new ArrayList<>(parked);
            parked.clear();
        }
        go.forEach(Runnable::run);
    }

    synchronized int parkedWrites() {
        return parked.size();
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        synchronized (this) {
            if (stalled) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                parked.add(() -> inner().writeAsync(offset, src, fua).whenComplete((v, t) -> {
                    if (t == null) f.complete(null);
                    else f.completeExceptionally(t);
                }));
                return f;
            }
        }
        return inner().writeAsync(offset, src, fua);
    }
}
