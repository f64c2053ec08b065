package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.IoCompletion;
import org.clustermd.raid1.io.IoPlug;

/**
 * One array write in flight (md's {@code r1bio}): the same buffer goes to every write target
 * of one {@link MirrorSet} snapshot at once, and a {@code remaining} counter completes the
 * caller's future when the last leg answered.
 *
 * <p>At the end: a leg that failed is failed in the array; the write succeeds when at least one
 * IN_SYNC leg took it, but is acknowledged only after the superblocks record the failed leg as
 * faulty (md holds such r1bios on {@code bio_end_io_list} until the update), so a later
 * assembly can never pick the stale leg as fresh. Meanwhile the request counts as parked for
 * the barrier (a quiesce does not wait for it). The bitmap's {@code endWrite} says "all legs
 * succeeded" only when no leg failed and every role received the write, so the bits of a failed
 * or degraded write stay until a resync or recovery covers them (docs/lessons.md §28, docs/lessons.md §30).
 *
 * <p>Thread-safe: completions arrive on the legs' completion threads; the counter decides who
 * runs the end.
 */
final class MirroredWrite implements IoCompletion {
    private final WritePath path;
    private final long sector;
    private final long sectors;
    private final ByteBuffer data;
    private final boolean fua;
    private final MirrorSet set;
    private final Mirror[] targets;
    private final long startNanos;
    private final Throwable[] errors;
    private final AtomicInteger remaining;
    private final CompletableFuture<Void> done = new CompletableFuture<>();

    MirroredWrite(
            WritePath path, long sector, long sectors, ByteBuffer data, boolean fua, MirrorSet set, long startNanos) {
        this.path = path;
        this.sector = sector;
        this.sectors = sectors;
        this.data = data;
        this.fua = fua;
        this.set = set;
        this.targets = set.writeTargetArray();
        this.startNanos = startNanos;
        this.errors = new Throwable[targets.length];
        this.remaining = new AtomicInteger(targets.length);
    }

    CompletableFuture<Void> issue() {
        if (targets.length == 0) {
            finish(false, false, new Raid1Exception(Raid1Exception.Code.IO_ERROR, path.name + ": no leg to write to"));
            return done;
        }
        long byteOffset = sector * BlockDevice.SECTOR_SIZE;
        // every leg's write in one io_submit when the legs share an AIO context (docs/datapath-cost.md)
        try (IoPlug plug = IoPlug.start()) {
            for (int i = 0; i < targets.length; i++) {
                Leg l = targets[i].leg();
                // this write is each leg's completion, tagged with the leg: nothing allocated per leg
                l.device.writeAsync(l.dataOffsetBytes + byteOffset, data, fua, this, i);
            }
        }
        return done;
    }

    @Override
    public void completed(int leg, Throwable t) {
        errors[leg] = t;
        if (remaining.decrementAndGet() == 0) allDone();
    }

    private void allDone() {
        boolean anyGood = false;
        boolean anyError = false;
        List<CompletableFuture<Void>> recordings = new ArrayList<>();
        IOException firstError = null;
        for (int i = 0; i < targets.length; i++) {
            if (errors[i] == null) {
                if (targets[i].state() == MirrorState.IN_SYNC) anyGood = true;
                continue;
            }
            anyError = true;
            IOException e = asIo(errors[i]);
            if (firstError == null) firstError = e;
            targets[i].leg().errors.incrementAndGet();
            CompletableFuture<Void> f = path.mirrors.legFailed(targets[i], e);
            if (f != null) recordings.add(f);
        }
        boolean allOk = !anyError && set.missingRoles() == 0;
        if (anyGood && path.mirrors.failureUnrecorded()) recordings.add(path.updater.request("record failed legs"));
        if (!anyGood) {
            Raid1Exception.Code code = path.gate.isFenced() ? Raid1Exception.Code.FENCED : Raid1Exception.Code.IO_ERROR;
            finish(
                    false,
                    allOk,
                    new Raid1Exception(
                            code,
                            path.name + ": write of " + sectors + " sectors at sector "
                                    + sector
                                    + (code == Raid1Exception.Code.FENCED
                                            ? " not written: the array is fenced"
                                            : " failed on every in-sync leg"),
                            firstError));
            return;
        }
        if (recordings.isEmpty()) {
            finish(true, allOk, null);
            return;
        }
        path.barrier.queued(sector, sectors, +1);
        boolean ok = anyGood;
        CompletableFuture.allOf(recordings.toArray(new CompletableFuture<?>[0])).whenComplete((v, t) -> {
            path.barrier.queued(sector, sectors, -1);
            if (t == null) {
                finish(ok, allOk, null);
            } else {
                finish(
                        false,
                        allOk,
                        new Raid1Exception(
                                Raid1Exception.Code.IO_ERROR,
                                path.name
                                        + ": a leg failed this write and the superblocks could not record it; the write is not"
                                        + " acknowledged",
                                t));
            }
        });
    }

    private void finish(boolean ok, boolean allOk, Raid1Exception failure) {
        try {
            WriteIntentBitmap bitmap = path.bitmap.get();
            if (bitmap != null) bitmap.endWrite(sector, sectors, allOk);
        } finally {
            path.barrier.allowBarrier(sector, sectors);
            path.state.writeEnd();
            path.accounting.endWrite(startNanos, sectors * BlockDevice.SECTOR_SIZE, ok);
            if (ok) done.complete(null);
            else done.completeExceptionally(failure);
        }
    }

    static IOException asIo(Throwable t) {
        Throwable c = t;
        while (c instanceof CompletionException && c.getCause() != null) c = c.getCause();
        return c instanceof IOException io ? io : new IOException(c);
    }
}
