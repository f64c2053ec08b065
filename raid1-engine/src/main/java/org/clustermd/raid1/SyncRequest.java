package org.clustermd.raid1;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.clustermd.raid1.io.BlockDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One sync request (md's r1bio of a sync): the reads, the compare of check and repair, and the
 * writes of one barrier unit at most, chained through completions. It owns its buffers slot and
 * the range {@code [pos, pos + len)} while it runs; what it does is reported to its
 * {@link SyncPass}, which counts it and, on {@link #end}, lowers the barrier and frees the slot.
 *
 * <p>Thread-safe by confinement: {@link #start} runs on the sync thread, each later step on the
 * completion thread of the I/O before it, one step at a time; the pass's counters it reports to
 * are atomics.
 */
final class SyncRequest {
    // logged under the pass's name as before the split
    private static final Logger log = LoggerFactory.getLogger(SyncPass.class);
    private static final int PAGE_SECTORS = 8;

    private final SyncPass pass;
    private final SyncAction action;
    final long pos;
    final long len;
    final ByteBuffer[] slot;
    final List<Mirror> targets;
    final boolean everyLeg;
    final MirrorSet set;
    final int bytes;

    SyncRequest(
            SyncPass pass,
            SyncAction action,
            long pos,
            long len,
            ByteBuffer[] slot,
            List<Mirror> targets,
            boolean everyLeg,
            MirrorSet set) {
        this.pass = pass;
        this.action = action;
        this.pos = pos;
        this.len = len;
        this.slot = slot;
        this.targets = targets;
        this.everyLeg = everyLeg;
        this.set = set;
        this.bytes = (int) (len * BlockDevice.SECTOR_SIZE);
    }

    ByteBuffer buf(int i) {
        return slot[i].duplicate().clear().limit(bytes);
    }

    /**
     * The sectors of I/O this request will issue: every in-sync leg read for check and repair,
     * else one read and a write to each target. Counted when the request is submitted, as md
     * counts {@code io_sectors}, so that a pipeline of requests cannot pass sync_speed_max before
     * the first of them completes.
     */
    long ioSectors() {
        if (action == SyncAction.CHECK || action == SyncAction.REPAIR) {
            return len * Math.min(set.inSyncArray().length, slot.length);
        }
        int writes = everyLeg ? Math.max(0, set.writeTargetArray().length - 1) : targets.size();
        return len * (1 + writes);
    }

    void start() {
        if (action == SyncAction.CHECK || action == SyncAction.REPAIR) readAll();
        else readFrom(0);
    }

    long at(Mirror m) {
        return m.leg().dataOffsetBytes + pos * BlockDevice.SECTOR_SIZE;
    }

    /** resync / recover: read the first in-sync leg that can. */
    void readFrom(int i) {
        Mirror[] good = set.inSyncArray();
        if (i >= good.length) {
            failed("no in-sync leg could read sector " + pos);
            return;
        }
        Mirror src = good[i];
        src.leg().device.readAsync(at(src), buf(0)).whenComplete((v, t) -> {
            if (t != null) {
                src.leg().errors.incrementAndGet();
                log.warn("{}: sync read of sector {} failed on {}: {}", pass.name(), pos, src.name(), t.getMessage());
                readFrom(i + 1);
                return;
            }
            List<Mirror> to = new ArrayList<>();
            if (everyLeg) {
                for (Mirror m : set.writeTargetArray()) if (m != src) to.add(m);
            } else {
                to.addAll(targets);
            }
            writeTo(to, buf(0), src);
        });
    }

    /** check / repair: read every in-sync leg, then compare. */
    void readAll() {
        Mirror[] good = set.inSyncArray();
        int n = Math.min(good.length, slot.length);
        List<CompletableFuture<Void>> fs = new ArrayList<>(n);
        for (int i = 0; i < n; i++) fs.add(good[i].leg().device.readAsync(at(good[i]), buf(i)));
        CompletableFuture.allOf(fs.stream().map(f -> f.handle((x, e) -> null)).toArray(CompletableFuture<?>[]::new))
                .whenComplete((x, ignored) -> compare(good, n, fs));
    }

    void compare(Mirror[] good, int n, List<CompletableFuture<Void>> fs) {
        int ref = -1;
        boolean[] failed = new boolean[n];
        for (int i = 0; i < n; i++) {
            failed[i] = fs.get(i).isCompletedExceptionally();
            if (failed[i]) good[i].leg().errors.incrementAndGet();
            else if (ref < 0) ref = i;
        }
        if (ref < 0) {
            failed("no in-sync leg could read sector " + pos);
            return;
        }
        pass.countChecked(len);
        ByteBuffer r = buf(ref);
        List<Mirror> differ = new ArrayList<>();
        long bad = 0;
        for (int i = 0; i < n; i++) {
            if (i == ref) continue;
            if (failed[i]) {
                differ.add(good[i]);
                continue;
            }
            long pages = differingPages(r, buf(i));
            if (pages > 0) {
                bad = Math.max(bad, pages * PAGE_SECTORS);
                differ.add(good[i]);
            }
        }
        pass.countMismatches(Math.min(bad, len));
        if (action == SyncAction.REPAIR && !differ.isEmpty()) writeTo(differ, r, good[ref]);
        else end(null);
    }

    void writeTo(List<Mirror> to, ByteBuffer data, Mirror src) {
        if (to.isEmpty()) {
            end(null);
            return;
        }
        List<CompletableFuture<Void>> fs = new ArrayList<>(to.size());
        for (Mirror m : to) fs.add(m.leg().device.writeAsync(at(m), data, false));
        CompletableFuture.allOf(fs.stream().map(f -> f.handle((x, e) -> null)).toArray(CompletableFuture<?>[]::new))
                .whenComplete((x, ignored) -> {
                    boolean any = false;
                    for (int i = 0; i < to.size(); i++) {
                        Throwable t = fs.get(i).handle((v, e) -> e).join();
                        if (t == null) {
                            any = true;
                            continue;
                        }
                        pass.writeFailed(to.get(i), pos, t);
                    }
                    if (any) pass.countCopied(len);
                    end(null);
                });
    }

    /** This request did not do its work: the pass stops, and its progress stays below {@code pos}. */
    void failed(String why) {
        pass.requestFailed(pos, why);
        end(null);
    }

    void end(String why) {
        if (why != null) {
            failed(why);
            return;
        }
        pass.requestEnded(pos, slot);
    }

    /** 4 KiB pages that differ between two equally long buffers. */
    static long differingPages(ByteBuffer a, ByteBuffer b) {
        long pages = 0;
        int len = a.remaining();
        for (int off = 0; off < len; off += 4096) {
            int end = Math.min(len, off + 4096);
            if (a.slice(off, end - off).mismatch(b.slice(off, end - off)) >= 0) pages++;
        }
        return pages;
    }
}
