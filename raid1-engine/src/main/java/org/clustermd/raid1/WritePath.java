package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.IoAccounting;
import org.clustermd.raid1.io.IoPlug;
import org.clustermd.raid1.resync.ResyncBarrier;

/**
 * raid1's {@code raid1_write_request} and flush handling, in md's order:
 * {@code md_write_start} (clean to active), wait while another node resyncs the range
 * ({@code areaResyncing(WRITE)}, as long as the window lasts), {@code wait_barrier} and the window checked again
 * (a window that started while the writer waited in the barrier sends it back), bitmap {@code startWrite}
 * (the bits are durable before any leg is written, docs/lessons.md §27), then a {@link MirroredWrite} to
 * every IN_SYNC and REBUILDING leg.
 *
 * <p>The steps before the leg writes may block the submitting thread (like md's make_request):
 * briefly for a new bitmap bit's flush, rarely for a superblock update or a window; never for
 * the data I/O itself. Every failure after the request was counted unwinds what was taken, so
 * the in-flight counter returns to 0 (docs/lessons.md §26b) and nothing is written partially without the
 * caller being told.
 *
 * <p>Thread-safe.
 */
final class WritePath {
    // package-visible for the MirroredWrites this path issues, which end through the same parts
    final String name;
    final RequestGate gate;
    final ArrayStateMachine state;
    final ResyncBarrier barrier;
    final IoAccounting accounting;
    final Mirrors mirrors;
    final MetadataUpdater updater;
    final Supplier<WriteIntentBitmap> bitmap;
    private final long ioWaitNanos;

    /** @param bitmap the array's bitmap, null while it has none */
    WritePath(
            String name,
            RequestGate gate,
            ArrayStateMachine state,
            ResyncBarrier barrier,
            IoAccounting accounting,
            Mirrors mirrors,
            MetadataUpdater updater,
            Supplier<WriteIntentBitmap> bitmap,
            long ioWaitNanos) {
        this.name = name;
        this.gate = gate;
        this.state = state;
        this.barrier = barrier;
        this.accounting = accounting;
        this.mirrors = mirrors;
        this.updater = updater;
        this.bitmap = bitmap;
        this.ioWaitNanos = ioWaitNanos;
    }

    CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        int len = src.remaining();
        Raid1Exception bad = gate.checkRequest(offset, len, src, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        if (len == 0) return CompletableFuture.completedFuture(null);
        ByteBuffer data = gate.ioBuffer(src, true);
        long sector = offset / BlockDevice.SECTOR_SIZE;
        long sectors = len / BlockDevice.SECTOR_SIZE;
        // the steps below may wait, perhaps for writes this thread's batch still holds
        IoPlug.flushHeld();
        long start = accounting.start();
        gate.started();
        int stage = 0;
        try {
            state.writeStart(ioWaitNanos);
            stage = 1;
            while (true) {
                gate.waitWhileResyncing(sector, sectors);
                barrier.waitBarrier(sector, sectors, ioWaitNanos);
                // a peer quiesces this node before it moves its window, so a writer that passed the
                // check may have waited in the barrier for exactly that window: look again, now that
                // the barrier counts this write, and back out while the window covers it
                if (!gate.windowCovers(sector, sectors)) break;
                barrier.allowBarrier(sector, sectors);
            }
            stage = 2;
            WriteIntentBitmap b = bitmap.get();
            if (b != null) b.startWrite(sector, sectors);
            stage = 3;
            gate.checkNotFenced();
            return new MirroredWrite(this, sector, sectors, data, fua, mirrors.current(), start).issue();
        } catch (Raid1Exception | BitmapException | TimeoutException | InterruptedException | RuntimeException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            if (stage >= 3) {
                WriteIntentBitmap b = bitmap.get();
                if (b != null) b.endWrite(sector, sectors, true); // nothing was written
            }
            if (stage >= 2) barrier.allowBarrier(sector, sectors);
            if (stage >= 1) state.writeEnd();
            accounting.endWrite(start, len, false);
            return CompletableFuture.failedFuture(gate.requestFailure("write", sector, sectors, e));
        }
    }

    /**
     * {@link #write} for a caller that must never block (a network event loop): the same steps
     * in the same order, each by its fast path only. Null, with nothing counted or written, when
     * a step would wait (the array turning active, another node's resync window, a barrier, a new
     * bitmap bit's flush) or fail; the caller then calls {@link #write} from a thread that may
     * block, which waits or reports the failure. Submitting to the legs is one system call per
     * leg; it waits only for a free AIO slot, i.e. when a leg's whole queue depth is in flight.
     */
    CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
        int len = src.remaining();
        Raid1Exception bad = gate.checkRequest(offset, len, src, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        if (len == 0) return CompletableFuture.completedFuture(null);
        long sector = offset / BlockDevice.SECTOR_SIZE;
        long sectors = len / BlockDevice.SECTOR_SIZE;
        if (!state.tryWriteStart()) return null;
        int stage = 1;
        try {
            if (gate.windowCovers(sector, sectors)) return null;
            if (!barrier.tryWaitBarrier(sector, sectors)) return null;
            stage = 2;
            // as in write: a window that started between the check and the barrier sends the writer back
            if (gate.windowCovers(sector, sectors)) return null;
            WriteIntentBitmap b = bitmap.get();
            if (b != null && !b.tryStartWrite(sector, sectors)) return null;
            stage = 3;
            if (gate.checkState(false) != null) return null;
            stage = 4;
        } catch (BitmapException | RuntimeException e) {
            return null; // the blocking path meets the same failure and reports it
        } finally {
            if (stage < 4) {
                if (stage >= 3) {
                    WriteIntentBitmap b = bitmap.get();
                    if (b != null) b.endWrite(sector, sectors, true); // nothing was written
                }
                if (stage >= 2) barrier.allowBarrier(sector, sectors);
                state.cancelWriteStart();
            }
        }
        ByteBuffer data = gate.ioBuffer(src, true);
        long start = accounting.start();
        gate.started();
        return new MirroredWrite(this, sector, sectors, data, fua, mirrors.current(), start).issue();
    }

    /**
     * A flush (REQ_PREFLUSH) to every write target: done when every write completed before it
     * is durable on every leg still in sync. A leg whose flush fails is failed (and recorded
     * before the flush is acknowledged).
     */
    CompletableFuture<Void> flush() {
        Raid1Exception bad = gate.checkState(true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        long start = accounting.start();
        gate.started();
        Mirror[] targets = mirrors.current().writeTargetArray();
        List<CompletableFuture<Void>> fs = new ArrayList<>(targets.length);
        for (Mirror m : targets) fs.add(m.leg().device.flushAsync());
        CompletableFuture<Void> result = new CompletableFuture<>();
        CompletableFuture.allOf(fs.stream().map(f -> f.handle((v, t) -> null)).toArray(CompletableFuture<?>[]::new))
                .whenComplete((v, ignored) -> {
                    boolean anyGood = false;
                    IOException first = null;
                    List<CompletableFuture<Void>> recordings = new ArrayList<>();
                    for (int i = 0; i < targets.length; i++) {
                        Throwable t = fs.get(i).handle((x, err) -> err).join();
                        if (t == null) {
                            if (targets[i].state() == MirrorState.IN_SYNC) anyGood = true;
                            continue;
                        }
                        IOException e = MirroredWrite.asIo(t);
                        if (first == null) first = e;
                        targets[i].leg().errors.incrementAndGet();
                        CompletableFuture<Void> r = mirrors.legFailed(targets[i], e);
                        if (r != null) recordings.add(r);
                    }
                    boolean ok = anyGood;
                    IOException cause = first;
                    if (ok && mirrors.failureUnrecorded()) recordings.add(updater.request("record failed legs"));
                    CompletableFuture.allOf(recordings.toArray(new CompletableFuture<?>[0]))
                            .whenComplete((x, t) -> {
                                boolean good = ok && t == null;
                                accounting.endFlush(start, good);
                                if (good) {
                                    result.complete(null);
                                } else {
                                    result.completeExceptionally(new Raid1Exception(
                                            Raid1Exception.Code.IO_ERROR,
                                            name + ": flush failed on every in-sync leg"
                                                    + (t != null ? " or could not be recorded" : ""),
                                            t != null ? t : cause));
                                }
                            });
                });
        return result;
    }

    /**
     * A discard is accepted and checked but does nothing to the legs: the BlockDevice SPI has
     * no discard, and leaving the data in place keeps the legs identical (what a discarded range
     * reads back as is unspecified anyway, as NBD's TRIM without "trim zeroes" says).
     */
    CompletableFuture<Void> discard(long offset, long length) {
        Raid1Exception bad = gate.checkRange(offset, length, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        return CompletableFuture.completedFuture(null);
    }
}
