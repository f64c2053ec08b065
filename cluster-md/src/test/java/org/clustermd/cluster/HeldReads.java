package org.clustermd.cluster;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.testkit.Timing;

/**
 * A leg that, once armed, holds every read starting in {@code [from, to)} until released: a node
 * stopped at a chosen point of its work (an admission's copy of the bitmap area, a grower's check
 * of a peer's slot) while the test makes something happen meanwhile.
 */
final class HeldReads extends ForwardingBlockDevice {
    private final CountDownLatch released = new CountDownLatch(1);
    private volatile long from = -1;
    private volatile long to = -1;
    /** Only this thread's reads are held; null: every thread's. */
    private volatile Thread only;

    private volatile boolean holding;

    HeldReads(BlockDevice inner) {
        super(inner);
    }

    /** Holds reads in {@code [from, to)} from now on. */
    void arm(long from, long to) {
        this.from = from; // with to still -1 nothing is held until the range is whole
        this.to = to;
    }

    /** Holds reads in {@code [from, to)} from now on, only those {@code thread} issues. */
    void arm(long from, long to, Thread thread) {
        this.only = thread;
        arm(from, to);
    }

    /** Whether a read is being held. */
    boolean holding() {
        return holding;
    }

    /** Lets every held read, and every later one, go on. */
    void release() {
        released.countDown();
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        Thread t = only;
        if (offset < from || offset >= to || (t != null && t != Thread.currentThread()))
            return inner().readAsync(offset, dst);
        holding = true;
        try {
            // the test releases it in its finally, before the fixture closes the node
            if (!released.await(Timing.seconds(300).toMillis(), TimeUnit.MILLISECONDS)) {
                return CompletableFuture.failedFuture(new IOException("never released"));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return CompletableFuture.failedFuture(new IOException("interrupted"));
        }
        return inner().readAsync(offset, dst);
    }
}
