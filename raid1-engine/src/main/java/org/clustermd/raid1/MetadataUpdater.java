package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code md_update_sb}: writes the superblock to every member that is not faulty, events
 * one higher each time, inside a cluster metadata update ({@code metadata_update_start} ...
 * {@code metadata_update_finish(good leg)}), after recording the same events in the bitmap
 * ({@code bitmap_update_sb}).
 *
 * <p>Anyone may {@link #request} an update (a leg failed, the array became active, a checkpoint);
 * only the md thread runs them ({@link #runPending()}), so superblock writes never overlap and
 * several requests made while one update runs are served by the next. A request's future
 * completes when an update that started after the request is on the legs, or fails if that
 * update failed. A leg that fails its superblock write is failed, and the update is repeated so
 * the legs that remain record it (md's "rewrite").
 *
 * <p>Thread-safe: {@link #request} from any thread; {@link #runPending()} from one thread at a
 * time (the md thread, or the closing thread after the md thread stopped).
 */
final class MetadataUpdater {
    private static final Logger log = LoggerFactory.getLogger(MetadataUpdater.class);
    private static final int MAX_REWRITES = 4;

    private final MddevCore array;
    private final Deque<Waiter> waiters = new ArrayDeque<>();
    private long requested;
    private long completed;
    private String lastReason = "";

    private record Waiter(long generation, CompletableFuture<Void> future) {}

    MetadataUpdater(MddevCore array) {
        this.array = array;
    }

    /** Asks for a superblock update; the md thread is woken. */
    CompletableFuture<Void> request(String why) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        synchronized (this) {
            requested++;
            lastReason = why;
            waiters.add(new Waiter(requested, f));
        }
        array.wakeMdThread();
        return f;
    }

    synchronized boolean pending() {
        return requested > completed;
    }

    /** Runs updates until none is pending (md thread). */
    void runPending() {
        for (int round = 0; round < MAX_REWRITES; round++) {
            long target;
            String why;
            synchronized (this) {
                if (requested <= completed) return;
                target = requested;
                why = lastReason;
            }
            Throwable failure = null;
            try {
                update(why);
            } catch (Raid1Exception | RuntimeException e) {
                failure = e;
                log.error("{}: superblock update ({}) failed: {}", array.name(), why, e.getMessage());
            }
            List<Waiter> done = new ArrayList<>();
            synchronized (this) {
                completed = Math.max(completed, target);
                while (!waiters.isEmpty() && waiters.peekFirst().generation() <= target) done.add(waiters.pollFirst());
            }
            for (Waiter w : done) {
                if (failure == null) w.future().complete(null);
                else w.future().completeExceptionally(failure);
            }
        }
        synchronized (this) {
            if (requested > completed) array.wakeMdThread();
        }
    }

    private void update(String why) throws Raid1Exception {
        if (array.isFenced())
            throw new Raid1Exception(Raid1Exception.Code.FENCED, array.name() + ": fenced; no superblock written");
        ClusterOperations cluster = array.cluster();
        cluster.metadataUpdateStart();
        boolean finished = false;
        try {
            long marked = array.failuresMarked();
            MirrorSet set = array.mirrors();
            ArrayMetadata md = array.metadata();
            long events = md.nextEvents();
            WriteIntentBitmap bitmap = array.bitmapOrNull();
            if (bitmap != null) {
                try {
                    bitmap.updateSuperblock(events);
                } catch (BitmapException e) {
                    throw new Raid1Exception(
                            Raid1Exception.Code.METADATA,
                            array.name() + ": the bitmap superblock could not be written: " + e.getMessage(),
                            e);
                }
            }
            List<Mirror> targets = new ArrayList<>();
            List<Superblock> sbs = new ArrayList<>();
            List<CompletableFuture<Void>> fs = new ArrayList<>();
            for (Mirror m : set.mirrors()) {
                if (m.state() == MirrorState.FAULTY) continue;
                Superblock sb = md.buildFor(m, set, events, bitmap != null);
                ByteBuffer buf = SuperblockCodec.encode(sb);
                targets.add(m);
                sbs.add(sb);
                fs.add(m.leg().device.writeAsync(SuperblockCodec.byteOffset(), buf, true));
            }
            Mirror good = null;
            IOException first = null;
            for (int i = 0; i < targets.size(); i++) {
                Mirror m = targets.get(i);
                try {
                    BlockDevice.await(fs.get(i));
                    md.remember(m.devNumber(), sbs.get(i));
                    if (m.state() == MirrorState.IN_SYNC && (good == null || m.role() < good.role())) good = m;
                } catch (IOException e) {
                    if (first == null) first = e;
                    m.leg().errors.incrementAndGet();
                    array.legFailed(m, e);
                }
            }
            if (good == null) {
                throw new Raid1Exception(
                        Raid1Exception.Code.METADATA,
                        array.name() + ": superblock (events " + events + ") reached no in-sync leg",
                        first);
            }
            log.debug("{}: superblock events {} written ({})", array.name(), events, why);
            finished = true;
            cluster.metadataUpdateFinish(good.devNumber());
            array.failuresRecorded(marked);
        } finally {
            if (!finished) cluster.metadataUpdateCancel();
        }
    }

    /** Waits for a superblock update, bounded; its failure becomes an IO_ERROR. */
    static void awaitUpdate(String array, CompletableFuture<Void> f, long timeoutNanos, String what)
            throws Raid1Exception {
        try {
            f.get(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (TimeoutException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.TIMEOUT,
                    array + ": " + what + ": the superblock update took longer than "
                            + TimeUnit.NANOSECONDS.toMillis(timeoutNanos) + " ms",
                    e);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof Raid1Exception r) {
                throw new Raid1Exception(r.code(), array + ": " + what + ": " + r.getMessage(), r);
            }
            throw new Raid1Exception(Raid1Exception.Code.METADATA, array + ": " + what + ": " + c, c);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new Raid1Exception(Raid1Exception.Code.TIMEOUT, array + ": " + what + ": interrupted", e);
        }
    }
}
