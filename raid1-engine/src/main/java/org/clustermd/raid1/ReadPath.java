package org.clustermd.raid1;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeoutException;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.IoAccounting;
import org.clustermd.raid1.resync.ResyncBarrier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * raid1's read path: {@code wait_read_barrier}, {@link ReadBalancer} picks one leg, the read
 * goes there. A read error is handed to the {@code raid1d-<array>} thread (md's
 * {@code fix_read_error}), which freezes the array (so no write races the repair), reads the
 * range from the other legs in turn, rewrites the good data onto each leg that failed and reads
 * it back; a leg that cannot be repaired is failed. The caller gets the good data, or an error
 * when no leg could read the range.
 *
 * <p>Thread-safe.
 */
final class ReadPath {
    private static final Logger log = LoggerFactory.getLogger(ReadPath.class);

    private final String name;
    private final RequestGate gate;
    private final ResyncBarrier barrier;
    private final IoAccounting accounting;
    private final Mirrors mirrors;
    private final Executor raid1d;
    private final long ioWaitNanos;

    /** @param raid1d md's {@code raid1d} thread, where read errors are repaired */
    ReadPath(
            String name,
            RequestGate gate,
            ResyncBarrier barrier,
            IoAccounting accounting,
            Mirrors mirrors,
            Executor raid1d,
            long ioWaitNanos) {
        this.name = name;
        this.gate = gate;
        this.barrier = barrier;
        this.accounting = accounting;
        this.mirrors = mirrors;
        this.raid1d = raid1d;
        this.ioWaitNanos = ioWaitNanos;
    }

    CompletableFuture<Void> read(long offset, ByteBuffer dst) {
        int len = dst.remaining();
        Raid1Exception bad = gate.checkRequest(offset, len, dst, false);
        if (bad != null) return CompletableFuture.failedFuture(bad);
        if (len == 0) return CompletableFuture.completedFuture(null);
        long sector = offset / BlockDevice.SECTOR_SIZE;
        long sectors = len / BlockDevice.SECTOR_SIZE;
        ByteBuffer buf = gate.ioBuffer(dst, false);
        long start = accounting.start();
        gate.started();
        try {
            barrier.waitReadBarrier(sector, sectors, ioWaitNanos);
        } catch (TimeoutException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            accounting.endRead(start, len, false);
            return CompletableFuture.failedFuture(gate.requestFailure("read", sector, sectors, e));
        }
        Request r = new Request(sector, sectors, buf, dst, start);
        MirrorSet set = mirrors.current();
        Mirror m = ReadBalancer.choose(set, sector, sectors, gate.readFirstLeg(sector, sectors));
        if (m == null) {
            r.finish(new Raid1Exception(Raid1Exception.Code.IO_ERROR, name + ": no leg can read sector " + sector));
        } else {
            r.issue(m);
        }
        return r.done;
    }

    private final class Request {
        final long sector;
        final long sectors;
        final ByteBuffer buf;
        final ByteBuffer dst;
        final long startNanos;
        final CompletableFuture<Void> done = new CompletableFuture<>();

        Request(long sector, long sectors, ByteBuffer buf, ByteBuffer dst, long startNanos) {
            this.sector = sector;
            this.sectors = sectors;
            this.buf = buf;
            this.dst = dst;
            this.startNanos = startNanos;
        }

        void issue(Mirror m) {
            Leg l = m.leg();
            l.pendingReads.incrementAndGet();
            l.headPosition = sector + sectors;
            l.device
                    .readAsync(l.dataOffsetBytes + sector * BlockDevice.SECTOR_SIZE, buf)
                    .whenComplete((v, t) -> {
                        l.pendingReads.decrementAndGet();
                        if (t == null) {
                            finish(null);
                        } else {
                            l.errors.incrementAndGet();
                            barrier.queued(sector, sectors, +1);
                            try {
                                raid1d.execute(() -> fixReadError(m, MirroredWrite.asIo(t)));
                            } catch (RuntimeException rejected) {
                                barrier.queued(sector, sectors, -1);
                                finish(new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": array is stopping", t));
                            }
                        }
                    });
        }

        /** md's fix_read_error, on the raid1d thread. */
        void fixReadError(Mirror failed, IOException cause) {
            barrier.queued(sector, sectors, -1);
            Raid1Exception result = null;
            boolean frozen = false;
            try {
                frozen = true; // freeze leaves the array frozen even when it times out
                barrier.freeze(1, ioWaitNanos);
                result = repair(failed, cause);
            } catch (TimeoutException | InterruptedException e) {
                if (e instanceof InterruptedException) Thread.currentThread().interrupt();
                result = new Raid1Exception(
                        Raid1Exception.Code.IO_ERROR,
                        name + ": read error at sector " + sector + " on " + failed.name()
                                + " and the array could not be quiesced to repair it",
                        cause);
            } catch (RuntimeException e) {
                result = new Raid1Exception(Raid1Exception.Code.IO_ERROR, name + ": repairing a read error failed", e);
            } finally {
                if (frozen) barrier.unfreeze();
                finish(result);
            }
        }

        private Raid1Exception repair(Mirror failed, IOException cause) {
            long at = sector * BlockDevice.SECTOR_SIZE;
            List<Mirror> bad = new ArrayList<>();
            bad.add(failed);
            Mirror good = null;
            for (Mirror m : mirrors.current().mirrors()) {
                if (m.devNumber() == failed.devNumber() || !m.canRead(sector, sectors)) continue;
                try {
                    m.leg().device.read(m.leg().dataOffsetBytes + at, buf);
                    good = m;
                    break;
                } catch (IOException e) {
                    m.leg().errors.incrementAndGet();
                    bad.add(m);
                }
            }
            if (good == null) {
                return new Raid1Exception(
                        Raid1Exception.Code.IO_ERROR,
                        name + ": no leg could read " + sectors + " sectors at sector " + sector,
                        cause);
            }
            ByteBuffer check = AlignedBuffers.allocate(buf.remaining());
            for (Mirror m : bad) {
                Mirror now = mirrors.current().byDevNumber(m.devNumber()).orElse(null);
                if (now == null || !now.state().takesWrites()) continue;
                Leg l = now.leg();
                try {
                    l.device.write(l.dataOffsetBytes + at, buf, false);
                    l.device.read(l.dataOffsetBytes + at, check);
                    if (!check.equals(buf)) throw new IOException(l.name() + ": rewritten sectors read back different");
                    l.correctedReads.incrementAndGet();
                    log.info(
                            "{}: read error corrected on {} at sector {} (+{}) from {}",
                            name,
                            l.name(),
                            sector,
                            sectors,
                            good.name());
                } catch (IOException e) {
                    l.errors.incrementAndGet();
                    log.warn("{}: {} could not be repaired at sector {}: {}", name, l.name(), sector, e.getMessage());
                    mirrors.legFailed(now, e);
                }
            }
            return null;
        }

        void finish(Raid1Exception failure) {
            barrier.allowBarrier(sector, sectors);
            boolean ok = failure == null;
            accounting.endRead(startNanos, sectors * BlockDevice.SECTOR_SIZE, ok);
            if (ok && buf != dst) dst.duplicate().put(buf.duplicate());
            if (ok) done.complete(null);
            else done.completeExceptionally(failure);
        }
    }
}
