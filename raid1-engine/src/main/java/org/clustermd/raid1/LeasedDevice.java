package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.io.IoCompletion;

/**
 * A leg as the array holds it: writes pass its {@link LeaseHold}'s lease immediately before they
 * reach the device; reads and flushes (which change nothing on the leg) go straight through.
 *
 * <p>Thread-safe.
 */
final class LeasedDevice extends ForwardingBlockDevice {
    private final LeaseHold hold;

    LeasedDevice(BlockDevice inner, LeaseHold hold) {
        super(inner);
        this.hold = hold;
    }

    LeaseHold hold() {
        return hold;
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        if (hold.lease().valid()) return inner().writeAsync(offset, src, fua);
        return hold.hold(inner(), offset, src, fua);
    }

    @Override
    public void writeAsync(long offset, ByteBuffer src, boolean fua, IoCompletion done, int tag) {
        if (hold.lease().valid()) {
            inner().writeAsync(offset, src, fua, done, tag);
            return;
        }
        hold.hold(inner(), offset, src, fua).whenComplete((v, t) -> done.completed(tag, t));
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        if (hold.lease().valid()) {
            inner().write(offset, src, fua); // the device's cheaper blocking path
            return;
        }
        BlockDevice.await(hold.hold(inner(), offset, src, fua));
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        inner().read(offset, dst);
    }

    @Override
    public void flush() throws IOException {
        inner().flush();
    }

    @Override
    public String toString() {
        return inner().toString();
    }
}
