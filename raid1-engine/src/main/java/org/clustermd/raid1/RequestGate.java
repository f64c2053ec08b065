package org.clustermd.raid1;

import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.raid1.io.AlignedBuffers;

/**
 * Where a request enters the data path: the checks every request makes before it touches a leg
 * (stopped, fenced, read-only, range, alignment, buffer), the count of requests started (the
 * sync pass's idea of foreground I/O), the wait while a peer resyncs a range
 * ({@code areaResyncing(WRITE)}, woken by {@link #windowChanged()}) and the read rule while legs
 * may differ ({@link #readFirstLeg}). It owns the lock and condition of that wait.
 *
 * <p>Thread-safe; nothing here does I/O.
 */
final class RequestGate {
    private final String name;
    private final int blockSize;
    private final LongSupplier sizeBytes;
    private final BooleanSupplier closing;
    private final Supplier<FenceReason> fenced;
    private final ArrayStateMachine state;
    private final ClusterOperations cluster;
    private final ArrayMetadata metadata;
    private final SyncControl sync;
    private final AtomicLong requestsStarted = new AtomicLong();
    private final ReentrantLock windowLock = new ReentrantLock();
    private final Condition windowChanged = windowLock.newCondition();

    /**
     * @param closing whether the array is stopping
     * @param fenced why the array is fenced, null while it is not
     * @param state says whether the array is read-only
     * @param metadata and {@code sync}: how far the array is known in sync, for reads
     */
    RequestGate(
            String name,
            int blockSize,
            LongSupplier sizeBytes,
            BooleanSupplier closing,
            Supplier<FenceReason> fenced,
            ArrayStateMachine state,
            ClusterOperations cluster,
            ArrayMetadata metadata,
            SyncControl sync) {
        this.name = name;
        this.blockSize = blockSize;
        this.sizeBytes = sizeBytes;
        this.closing = closing;
        this.fenced = fenced;
        this.state = state;
        this.cluster = cluster;
        this.metadata = metadata;
        this.sync = sync;
    }

    /** The state checks every request makes first; null when it may proceed. */
    Raid1Exception checkState(boolean write) {
        if (closing.getAsBoolean()) return new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": array is stopped");
        FenceReason f = fenced.get();
        if (f != null) return new Raid1Exception(Raid1Exception.Code.FENCED, name + ": array is fenced (" + f + ")");
        if (write && state.readOnly())
            return new Raid1Exception(Raid1Exception.Code.READ_ONLY, name + ": array is read-only");
        return null;
    }

    Raid1Exception checkRange(long offset, long length, boolean write) {
        Raid1Exception s = checkState(write);
        if (s != null) return s;
        long size = sizeBytes.getAsLong(); // grows while the array runs (SizeChange)
        if (offset < 0 || length < 0 || offset > size - length) {
            return new Raid1Exception(
                    Raid1Exception.Code.OUT_OF_RANGE,
                    name + ": [" + offset + ", +" + length + ") is outside the array's " + size + " bytes");
        }
        if (offset % blockSize != 0 || length % blockSize != 0) {
            return new Raid1Exception(
                    Raid1Exception.Code.UNALIGNED,
                    name + ": offset " + offset + " and length " + length + " must be multiples of " + blockSize
                            + " bytes");
        }
        return null;
    }

    Raid1Exception checkRequest(long offset, int length, ByteBuffer buf, boolean write) {
        if (buf == null) return new Raid1Exception(Raid1Exception.Code.BAD_BUFFER, name + ": null buffer");
        if (!write && buf.isReadOnly()) {
            return new Raid1Exception(Raid1Exception.Code.BAD_BUFFER, name + ": cannot read into a read-only buffer");
        }
        return checkRange(offset, length, write);
    }

    void checkNotFenced() throws Raid1Exception {
        Raid1Exception e = checkState(false);
        if (e != null) throw e;
    }

    boolean isFenced() {
        return fenced.get() != null;
    }

    /** A request passed its checks and goes on. */
    void started() {
        requestsStarted.incrementAndGet();
    }

    long requestsStarted() {
        return requestsStarted.get();
    }

    /** The buffer the legs get: the caller's when it is direct and aligned, else a bounce copy. */
    ByteBuffer ioBuffer(ByteBuffer buf, boolean write) {
        if (buf.isDirect() && AlignedBuffers.isAligned(buf, blockSize)) return buf;
        ByteBuffer b = AlignedBuffers.allocate(buf.remaining());
        if (write) b.put(0, buf, buf.position(), buf.remaining());
        return b;
    }

    Raid1Exception requestFailure(String what, long sector, long sectors, Throwable e) {
        if (e instanceof Raid1Exception r) return r;
        if (e instanceof TimeoutException) {
            return new Raid1Exception(
                    Raid1Exception.Code.TIMEOUT,
                    name + ": " + what + " of " + sectors + " sectors at sector " + sector + " waited too long: "
                            + e.getMessage(),
                    e);
        }
        if (e instanceof BitmapException) {
            return new Raid1Exception(
                    Raid1Exception.Code.IO_ERROR,
                    name + ": " + what + " at sector " + sector
                            + ": the bitmap could not be made durable on any in-sync leg: " + e.getMessage(),
                    e);
        }
        return new Raid1Exception(
                Raid1Exception.Code.IO_ERROR, name + ": " + what + " at sector " + sector + " failed: " + e, e);
    }

    /** Whether another node resyncs some of the range, so that a write there must wait. */
    boolean windowCovers(long sector, long sectors) {
        return cluster.areaResyncing(ClusterOperations.Direction.WRITE, sector, sector + sectors);
    }

    /**
     * Waits while another node resyncs some of the range, as long as its window lasts: md's
     * writer sleeps there without a bound, since the window ends when the peer moves it, ends
     * its pass, or dies (recovery clears it). Only the array stopping or being fenced ends the
     * wait early (CLOSED, FENCED), so a writer never outlives the array.
     */
    void waitWhileResyncing(long sector, long sectors) throws Raid1Exception {
        if (!windowCovers(sector, sectors)) return;
        windowLock.lock();
        try {
            while (windowCovers(sector, sectors)) {
                checkNotFenced();
                // the poll bounds a missed wake-up (a window cleared between the check and the await)
                windowChanged.awaitNanos(TimeUnit.MILLISECONDS.toNanos(50));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Raid1Exception(
                    Raid1Exception.Code.TIMEOUT,
                    name + ": interrupted while waiting for another node's resync of sectors [" + sector + ", "
                            + (sector + sectors) + ")");
        } finally {
            windowLock.unlock();
        }
    }

    /** A peer's window moved, or the array fenced: the writers waiting here look again. */
    void windowChanged() {
        windowLock.lock();
        try {
            windowChanged.signalAll();
        } finally {
            windowLock.unlock();
        }
    }

    /** Whether a read must go to the first in-sync leg (legs may differ there). */
    boolean readFirstLeg(long sector, long sectors) {
        if (cluster.areaResyncing(ClusterOperations.Direction.READ, sector, sector + sectors)) return true;
        long cp = metadata.recoveryCp();
        if (cp == Mddev.MAX_SECTOR) return false;
        Optional<SyncPass> p = sync.running();
        long known = cp;
        if (p.isPresent() && p.get().action() == SyncAction.RESYNC)
            known = Math.max(cp, p.get().completedUpTo());
        return sector + sectors > known;
    }
}
