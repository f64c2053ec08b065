package org.clustermd.raid1;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Supplier;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;

/**
 * A real leg that a test can make as slow as it likes: while {@link #stall()}ed, its reads or its
 * writes (which, is fixed when it is built) are parked before they reach the device and stay in
 * flight until {@link #resume()}. Only for tests that need a request in flight for as long as
 * they say.
 *
 * <p>Thread-safe.
 */
public final class ParkingLeg extends ForwardingBlockDevice {
    /** What a stalled leg parks. */
    public enum Parks {
        READS,
        WRITES
    }

    private final Parks parks;
    private final List<Runnable> parked = new ArrayList<>();
    private boolean stalled;

    public ParkingLeg(BlockDevice inner, Parks parks) {
        super(inner);
        this.parks = parks;
    }

    public synchronized void stall() {
        stalled = true;
    }

    /** Issues every parked request and lets later ones through. */
    public void resume() {
        List<Runnable> go;
        synchronized (this) {
            stalled = false;
            go = new ArrayList<>(parked);
            parked.clear();
        }
        go.forEach(Runnable::run);
    }

    /** Requests parked now. */
    public synchronized int parked() {
        return parked.size();
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return parks == Parks.READS ? parkOr(() -> inner().readAsync(offset, dst)) : inner().readAsync(offset, dst);
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        return parks == Parks.WRITES
                ? parkOr(() -> inner().writeAsync(offset, src, fua))
                : inner().writeAsync(offset, src, fua);
    }

    private CompletableFuture<Void> parkOr(Supplier<CompletableFuture<Void>> request) {
        synchronized (this) {
            if (stalled) {
                CompletableFuture<Void> f = new CompletableFuture<>();
                parked.add(() -> request.get().whenComplete((v, t) -> {
                    if (t == null) f.complete(null);
                    else f.completeExceptionally(t);
                }));
                return f;
            }
        }
        return request.get();
    }
}
