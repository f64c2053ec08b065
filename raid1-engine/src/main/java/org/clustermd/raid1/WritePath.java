package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;

/**
 * raid1's {@code raid1_write_request} and flush handling, in md's order:
 * {@code md_write_start} (clean to active), wait while another node resyncs the range
 * ({@code areaResyncing(WRITE)}, bounded), {@code wait_barrier}, bitmap {@code startWrite}
 * (the bits are durable before any leg is written, lesson 27), then a {@link MirroredWrite} to
 * every IN_SYNC and REBUILDING leg.
 *
 * <p>The steps before the leg writes may block the submitting thread (like md's make_request):
 * briefly for a new bitmap bit's flush, rarely for a superblock update or a window; never for
 * the data I/O itself. Every failure after the request was counted unwinds what was taken, so
 * the in-flight counter returns to 0 (lesson 26b) and nothing is written partially without the
 * caller being told.
 *
 * <p>Thread-safe.
 */
final class WritePath {
    private final Raid1Array array;

    WritePath(Raid1Array array) {
        this.array = array;
    }

    CompletableFuture<Void> write(long offset, ByteBuffer src, boolean fua) {
        int len = src.remaining();
        Raid1Exception bad = array.checkRequest(offset, len, src, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        if (len == 0) return CompletableFuture.completedFuture(null);
        ByteBuffer data = array.ioBuffer(src, true);
        long sector = offset / BlockDevice.SECTOR_SIZE;
        long sectors = len / BlockDevice.SECTOR_SIZE;
        long start = array.accounting().start();
        array.requestStarted();
        int stage = 0;
        try {
            array.stateMachine().writeStart(array.ioWaitNanos());
            stage = 1;
            array.waitWhileResyncing(sector, sectors);
            array.barrier().waitBarrier(sector, sectors, array.ioWaitNanos());
            stage = 2;
            WriteIntentBitmap bitmap = array.bitmapOrNull();
            if (bitmap != null) bitmap.startWrite(sector, sectors);
            stage = 3;
            array.checkNotFenced();
            return new MirroredWrite(array, sector, sectors, data, fua, array.mirrors(), start).issue();
        } catch (Raid1Exception | BitmapException | TimeoutException | InterruptedException | RuntimeException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            if (stage >= 3) {
                WriteIntentBitmap bitmap = array.bitmapOrNull();
                if (bitmap != null) bitmap.endWrite(sector, sectors, true); // nothing was written
            }
            if (stage >= 2) array.barrier().allowBarrier(sector, sectors);
            if (stage >= 1) array.stateMachine().writeEnd();
            array.accounting().endWrite(start, len, false);
            return CompletableFuture.failedFuture(array.requestFailure("write", sector, sectors, e));
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
        Raid1Exception bad = array.checkRequest(offset, len, src, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        if (len == 0) return CompletableFuture.completedFuture(null);
        long sector = offset / BlockDevice.SECTOR_SIZE;
        long sectors = len / BlockDevice.SECTOR_SIZE;
        if (!array.stateMachine().tryWriteStart()) return null;
        int stage = 1;
        try {
            if (array.resyncingElsewhere(sector, sectors)) return null;
            if (!array.barrier().tryWaitBarrier(sector, sectors)) return null;
            stage = 2;
            WriteIntentBitmap bitmap = array.bitmapOrNull();
            if (bitmap != null && !bitmap.tryStartWrite(sector, sectors)) return null;
            stage = 3;
            if (array.checkState(false) != null) return null;
            stage = 4;
        } catch (BitmapException | RuntimeException e) {
            return null; // the blocking path meets the same failure and reports it
        } finally {
            if (stage < 4) {
                if (stage >= 3) {
                    WriteIntentBitmap bitmap = array.bitmapOrNull();
                    if (bitmap != null) bitmap.endWrite(sector, sectors, true); // nothing was written
                }
                if (stage >= 2) array.barrier().allowBarrier(sector, sectors);
                array.stateMachine().cancelWriteStart();
            }
        }
        ByteBuffer data = array.ioBuffer(src, true);
        long start = array.accounting().start();
        array.requestStarted();
        return new MirroredWrite(array, sector, sectors, data, fua, array.mirrors(), start).issue();
    }

    /**
     * A flush (REQ_PREFLUSH) to every write target: done when every write completed before it
     * is durable on every leg still in sync. A leg whose flush fails is failed (and recorded
     * before the flush is acknowledged).
     */
    CompletableFuture<Void> flush() {
        Raid1Exception bad = array.checkState(true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        long start = array.accounting().start();
        array.requestStarted();
        Mirror[] targets = array.mirrors().writeTargetArray();
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
                        CompletableFuture<Void> r = array.legFailed(targets[i], e);
                        if (r != null) recordings.add(r);
                    }
                    boolean ok = anyGood;
                    IOException cause = first;
                    if (ok && array.failureUnrecorded()) recordings.add(array.updater().request("record failed legs"));
                    CompletableFuture.allOf(recordings.toArray(new CompletableFuture<?>[0])).whenComplete((x, t) -> {
                        boolean good = ok && t == null;
                        array.accounting().endFlush(start, good);
                        if (good) {
                            result.complete(null);
                        } else {
                            result.completeExceptionally(new Raid1Exception(Raid1Exception.Code.IO_ERROR, array.name()
                                    + ": flush failed on every in-sync leg" + (t != null ? " or could not be recorded" : ""),
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
        Raid1Exception bad = array.checkRange(offset, length, true);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        return CompletableFuture.completedFuture(null);
    }
}
