package org.clustermd.bench.resync;

import static org.clustermd.bench.storage.Percentiles.list;
import static org.clustermd.bench.storage.Percentiles.median;
import static org.clustermd.bench.storage.Rounds.longs;
import static org.clustermd.bench.storage.Rounds.wanted;
import static org.clustermd.bench.storage.Rounds.with;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeSet;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.Suite;
import org.clustermd.bench.storage.Fio;
import org.clustermd.bench.storage.FioReport;
import org.clustermd.bench.storage.LatencySamples;
import org.clustermd.bench.storage.LegFiles;
import org.clustermd.bench.storage.RawLegs;
import org.clustermd.bench.storage.Rounds;
import org.clustermd.bench.storage.WriteLoad;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Mirror;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.SyncReport;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.admin.BitmapReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.admin.SlotReport;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.resync.SyncThrottle;

/**
 * {@code benchmarks/run resync [--rounds 5] [--seconds 5] [--dir /var/tmp] [--size 1G]
 * [--engine aio|threads] [--bitmap-chunk 64M] [--sync-speed-max KIB] [--sync-depth N] [--sync-block 1M]
 * [--sync-yield N]
 * [--seed N]
 * [--figures P9,P10,P12]}: the resync
 * figures of docs/design.md §7, on two pre-written leg files that ours and fio share.
 *
 * <ul>
 *   <li>P9: a full resync (an array created without {@code --assume-clean}, assembled frozen,
 *       then {@code sync_action=resync}): bytes copied ÷ the pass's time, against fio reading leg
 *       0 while writing leg 1 ({@code peers copy}, min of the two rates). The resync reads the
 *       first in-sync leg and writes the other, as the peer does. sync_speed_max is raised to
 *       {@code --sync-speed-max} (default 10,000,000 KiB/s, i.e. unlimited) because the figure is
 *       about the engine's copy rate, not md's default ceiling of 200,000 KiB/s.</li>
 *   <li>P10 after a crash: writes to a few random chunks of a clean array, then a crash (every
 *       later write to either leg is dropped by a fault-injecting device, so the stop's clean
 *       superblock and bitmap clearing never reach the disk), then a fresh assembly from the
 *       files: the bytes the resync wrote into the legs' data areas ÷ (dirty bits of the
 *       on-disk bitmap after the crash × chunk size).</li>
 *   <li>P10 after a re-add: a leg failed, the same kind of writes, the leg re-added: bytes the
 *       recovery wrote ÷ (dirty bits × chunk size).</li>
 *   <li>P10ahead (with P10): the extra chunks bits set ahead of a sequential stream leave dirty
 *       after a crash, ÷ the chunks the stream wrote ({@link StreamCrashCost}).</li>
 *   <li>P12: one blocking 4 KiB random write at a time; p99 latency while a full resync runs ÷
 *       p99 on the same array with no sync running, md's default speed limits. Each round is a
 *       new array needing a full resync; its {@code --seconds} per side are cut into 1-second
 *       slices, busy (the pass running) and idle (the pass paused with md's sync_max, no request
 *       in flight) in alternating order, so both sides see the same
 *       disk. (Freezing and restarting the pass instead would restart it at the beginning of
 *       its bitmap chunk every time; see the report.)</li>
 * </ul>
 *
 * <p>Not thread-safe; run once.
 */
public final class ResyncSuite implements Suite {
    private static final Duration SYNC_WAIT = Duration.ofMinutes(10);
    private static final int BLOCK = 4096;

    @Override
    public String name() {
        return "resync";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 5);
        int seconds = o.intValue("seconds", 5);
        long speedMax = Long.parseLong(o.string("sync-speed-max", "10000000"));
        long seed = Long.parseLong(o.string("seed", Long.toString(System.nanoTime())));
        int syncDepth = o.intValue("sync-depth", ArrayOptions.DEFAULT_SYNC_DEPTH);
        int syncYield = o.intValue("sync-yield", ArrayOptions.DEFAULT_SYNC_YIELD_REQUESTS);
        int syncBlock = (int) LegFiles.parseSize(
                o.string("sync-block", Integer.toString(ArrayOptions.DEFAULT_SYNC_BLOCK_SECTORS * 512)));
        try (LegFiles legs = LegFiles.create(o, "resync", 2)) {
            legs.createArray(BitmapMode.CLUSTERED, true);
            progress(
                    "resync: %d rounds, %d s windows, array %d MiB, bitmap chunk %d MiB, seed %d",
                    rounds, seconds, legs.arrayBytes() >> 20, legs.chunkBytes() >> 20, seed);
            List<Figure> out = new ArrayList<>();
            if (wanted(o, "P9")) out.add(p9(legs, rounds, speedMax, syncDepth, syncBlock));
            Random random = new Random(seed);
            if (wanted(o, "P10")) {
                out.add(p10Crash(legs, rounds, speedMax, random, seed));
                out.add(p10ReAdd(legs, rounds, speedMax, random, seed));
                out.add(StreamCrashCost.measure(legs));
            }
            if (wanted(o, "P12")) out.add(p12(legs, rounds, seconds, syncDepth, syncBlock, syncYield));
            return out;
        } catch (IOException e) {
            throw new BenchException("resync suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted", e);
        }
    }

    // ------------------------------------------------------------------ P9

    private Figure p9(LegFiles legs, int rounds, long speedMax, int syncDepth, int syncBlock)
            throws IOException, InterruptedException, BenchException {
        double[] ours = new double[rounds];
        double[] peer = new double[rounds];
        double[] oursWall = new double[rounds];
        double[] raw = new double[rounds];
        String command = null;
        long size = legs.arrayBytes();
        for (int r = 0; r < rounds; r++) {
            boolean peerFirst = r % 2 == 0;
            if (peerFirst) {
                FioReport f = copyPeer(legs);
                command = f.command();
                peer[r] = f.copyMibPerSecond();
            }
            legs.createArray(BitmapMode.CLUSTERED, false);
            try (Raid1Array a = Raid1Array.assemble(
                    legs.openLegs(),
                    ArrayOptions.builder()
                            .startFrozen(true)
                            .syncSpeedMax(speedMax)
                            .syncDepth(syncDepth)
                            .syncBlockSectors(syncBlock / 512)
                            .build())) {
                long t0 = System.nanoTime();
                a.syncAction(SyncAction.RESYNC);
                SyncReport rep = a.awaitSyncIdle(SYNC_WAIT).orElseThrow(() -> new IOException("no sync pass ran"));
                long wall = System.nanoTime() - t0;
                if (rep.action() != SyncAction.RESYNC || !rep.completed() || rep.bytesCopied() != size) {
                    throw new IOException("P9: expected a completed resync of " + size + " bytes, got " + rep);
                }
                ours[r] = rep.bytesCopied() / (rep.nanos() / 1e9) / (1 << 20);
                oursWall[r] = rep.bytesCopied() / (wall / 1e9) / (1 << 20);
            }
            if (!peerFirst) {
                FioReport f = copyPeer(legs);
                command = f.command();
                peer[r] = f.copyMibPerSecond();
            }
            List<BlockDevice> devices = legs.openLegs();
            try {
                raw[r] = RawLegs.dependentCopy(
                        devices.get(0), devices.get(1), legs.dataOffsetBytes(), size, syncDepth, syncBlock);
            } finally {
                for (BlockDevice d : devices) d.close();
            }
            progress(
                    "P9 round %d: resync %.1f MiB/s (%.1f from the action's write), fio copy %.1f MiB/s,"
                            + " read-then-write copy without the array %.1f MiB/s",
                    r + 1, ours[r], oursWall[r], peer[r], raw[r]);
        }
        return Rounds.paired(
                        new Figure(
                                "P9",
                                "full resync rate / fio copy (read leg 0 while writing leg 1)",
                                median(ours),
                                median(peer),
                                ">=0.90",
                                "MiB/s"),
                        ours,
                        peer)
                .with("ours_from_sync_action_write_per_round", list(oursWall))
                .with("floor_dependent_copy_per_round", list(raw))
                .with("floor_dependent_copy_median", median(raw))
                .with(
                        "floor_dependent_copy",
                        "leg 0 to leg 1 through the legs' BlockDevices, each of sync_depth slots"
                                + " reading 1 MiB and then writing it: a resync's I/O pattern without the sync thread")
                .with(
                        "config",
                        with(
                                legs.config(),
                                "resync_bytes",
                                size,
                                "sync_block_bytes",
                                syncBlock,
                                "sync_depth",
                                syncDepth,
                                "sync_speed_max_kib",
                                speedMax,
                                "md_default_sync_speed_max_kib",
                                SyncThrottle.DEFAULT_SPEED_MAX))
                .with("peer_command", "min(read MiB/s, write MiB/s): " + command);
    }

    private static FioReport copyPeer(LegFiles legs) throws BenchException {
        // fio's buffers on huge pages, as the resync's are (SyncPass): the figure compares the
        // copy paths, not how scattered each side's buffer pages happen to be (docs/lessons.md §70)
        return Fio.run(
                Fio.copy(legs.leg(0), legs.leg(1), legs.dataOffsetBytes(), legs.arrayBytes()), legs.dir(), 600, true);
    }

    // ------------------------------------------------------------------ P10

    private Figure p10Crash(LegFiles legs, int rounds, long speedMax, Random random, long seed)
            throws IOException, InterruptedException {
        double[] ratio = new double[rounds];
        long[] written = new long[rounds];
        long[] expected = new long[rounds];
        long[] copied = new long[rounds];
        List<Object> dirty = new ArrayList<>();
        List<Object> chunks = new ArrayList<>();
        long chunk = legs.chunkBytes();
        for (int r = 0; r < rounds; r++) {
            legs.createArray(BitmapMode.CLUSTERED, true);
            TreeSet<Long> picked = pickChunks(legs, random);
            List<FaultInjectingBlockDevice> faulty = new ArrayList<>();
            for (BlockDevice d : legs.openLegs()) faulty.add(new FaultInjectingBlockDevice(d));
            Raid1Array a = Raid1Array.assemble(faulty, ArrayOptions.defaults());
            try {
                writeChunks(a, picked, chunk, random);
            } finally {
                // the crash: nothing written from now on reaches either leg
                for (FaultInjectingBlockDevice f : faulty) f.dropWrites(true);
                a.close();
            }
            long dirtyChunks = dirtyOnDisk(legs, 0);
            long dirtyLeg1 = dirtyOnDisk(legs, 1);
            List<DataAreaCounter> counters = new ArrayList<>();
            for (BlockDevice d : legs.openLegs()) counters.add(new DataAreaCounter(d, legs.dataOffsetBytes()));
            try (Raid1Array b = Raid1Array.assemble(
                    counters, ArrayOptions.builder().syncSpeedMax(speedMax).build())) {
                SyncReport rep = b.awaitSyncIdle(SYNC_WAIT).orElseThrow(() -> new IOException("P10: no resync ran"));
                long bytes = counters.stream()
                        .mapToLong(DataAreaCounter::dataBytesWritten)
                        .sum();
                written[r] = bytes;
                copied[r] = rep.bytesCopied();
                expected[r] = dirtyChunks * chunk;
                ratio[r] = bytes / (double) expected[r];
                dirty.add(List.of(dirtyChunks, dirtyLeg1));
                chunks.add(new ArrayList<>(picked));
                progress(
                        "P10 crash round %d: wrote chunks %s, on-disk dirty bits %d (leg 1: %d), resync %s wrote %d bytes"
                                + " (report: %d copied) -> %.4f",
                        r + 1, picked, dirtyChunks, dirtyLeg1, rep.action(), bytes, rep.bytesCopied(), ratio[r]);
            }
        }
        double m = median(ratio);
        return new Figure(
                        "P10",
                        "bytes resynced after a crash / (dirty chunks x chunk size)",
                        m,
                        Double.NaN,
                        m,
                        "=1.00",
                        "ratio")
                .with("rounds", rounds)
                .with("ratio_per_round", list(ratio))
                .with("resync_data_bytes_written_per_round", longs(written))
                .with("dirty_chunks_x_chunk_bytes_per_round", longs(expected))
                .with("sync_report_bytes_copied_per_round", longs(copied))
                .with("dirty_bits_on_disk_leg0_leg1_per_round", dirty)
                .with("chunks_written_per_round", chunks)
                .with(
                        "method",
                        "clean array; 4 KiB writes in a few random chunks; crash = every later write dropped"
                                + " (no clean stop reaches disk); assemble again; count data-area bytes written to the legs")
                .with("seed", seed)
                .with("config", with(legs.config(), "sync_speed_max_kib", speedMax));
    }

    private Figure p10ReAdd(LegFiles legs, int rounds, long speedMax, Random random, long seed)
            throws IOException, InterruptedException {
        double[] ratio = new double[rounds];
        long[] written = new long[rounds];
        long[] expected = new long[rounds];
        long[] copied = new long[rounds];
        List<Object> chunks = new ArrayList<>();
        long chunk = legs.chunkBytes();
        for (int r = 0; r < rounds; r++) {
            legs.createArray(BitmapMode.CLUSTERED, true);
            TreeSet<Long> picked = pickChunks(legs, random);
            List<DataAreaCounter> counters = new ArrayList<>();
            for (BlockDevice d : legs.openLegs()) counters.add(new DataAreaCounter(d, legs.dataOffsetBytes()));
            try (Raid1Array a = Raid1Array.assemble(
                    counters, ArrayOptions.builder().syncSpeedMax(speedMax).build())) {
                String leg1 = legName(a, 1);
                a.failDevice(leg1);
                writeChunks(a, picked, chunk, random);
                long dirtyChunks = a.bitmapDirtyChunks();
                for (DataAreaCounter c : counters) c.reset();
                a.reAddDevice(leg1);
                SyncReport rep = a.awaitSyncIdle(SYNC_WAIT).orElseThrow(() -> new IOException("P10: no recovery ran"));
                if (a.degraded() != 0) throw new IOException("P10: the re-added leg did not come back: " + a.mirrors());
                long bytes = counters.stream()
                        .mapToLong(DataAreaCounter::dataBytesWritten)
                        .sum();
                written[r] = bytes;
                copied[r] = rep.bytesCopied();
                expected[r] = dirtyChunks * chunk;
                ratio[r] = bytes / (double) expected[r];
                chunks.add(new ArrayList<>(picked));
                progress(
                        "P10 re-add round %d: wrote chunks %s, dirty bits %d, %s wrote %d bytes (report: %d copied)"
                                + " -> %.4f",
                        r + 1, picked, dirtyChunks, rep.action(), bytes, rep.bytesCopied(), ratio[r]);
            }
        }
        double m = median(ratio);
        return new Figure(
                        "P10",
                        "bytes recovered after a re-add / (dirty chunks x chunk size)",
                        m,
                        Double.NaN,
                        m,
                        "=1.00",
                        "ratio")
                .with("rounds", rounds)
                .with("ratio_per_round", list(ratio))
                .with("recovery_data_bytes_written_per_round", longs(written))
                .with("dirty_chunks_x_chunk_bytes_per_round", longs(expected))
                .with("sync_report_bytes_copied_per_round", longs(copied))
                .with("chunks_written_per_round", chunks)
                .with(
                        "method",
                        "clean array; leg 1 failed; 4 KiB writes in a few random chunks; leg 1 re-added;"
                                + " count data-area bytes the recovery wrote")
                .with("seed", seed)
                .with("config", with(legs.config(), "sync_speed_max_kib", speedMax));
    }

    /** A few distinct whole chunks (a partial last chunk is never picked). */
    private static TreeSet<Long> pickChunks(LegFiles legs, Random random) {
        long whole = legs.arrayBytes() / legs.chunkBytes();
        int want = (int) Math.max(1, Math.min(6, whole / 2));
        TreeSet<Long> picked = new TreeSet<>();
        while (picked.size() < want) picked.add((long) random.nextInt((int) whole));
        return picked;
    }

    /** 16 random 4 KiB writes in each picked chunk. */
    private static void writeChunks(Raid1Array a, TreeSet<Long> picked, long chunk, Random random) throws IOException {
        ByteBuffer buf = AlignedBuffers.allocate(BLOCK);
        for (long c : picked) {
            for (int i = 0; i < 16; i++) {
                long off = c * chunk + (long) random.nextInt((int) (chunk / BLOCK)) * BLOCK;
                buf.putLong(0, off);
                a.write(off, buf);
            }
        }
    }

    static long dirtyOnDisk(LegFiles legs, int leg) throws IOException {
        BitmapReport b = Examiner.examine(legs.leg(leg))
                .bitmap()
                .orElseThrow(() -> new IOException(legs.leg(leg) + ": no bitmap after the crash"));
        long sum = 0;
        for (SlotReport s : b.slots()) sum += s.dirty();
        return sum;
    }

    private static String legName(Raid1Array a, int devNumber) throws IOException {
        Mirror m = a.mirrors()
                .byDevNumber(devNumber)
                .orElseThrow(() -> new IOException("no device " + devNumber + " in " + a.mirrors()));
        return m.name();
    }

    // ------------------------------------------------------------------ P12

    private Figure p12(LegFiles legs, int rounds, int seconds, int syncDepth, int syncBlock, int syncYield)
            throws IOException, InterruptedException {
        double[] idleP99 = new double[rounds];
        double[] busyP99 = new double[rounds];
        double[] idleP50 = new double[rounds];
        double[] busyP50 = new double[rounds];
        long[] idleN = new long[rounds];
        long[] busyN = new long[rounds];
        double[] busySeconds = new double[rounds];
        double[] resyncMib = new double[rounds];
        for (int r = 0; r < rounds; r++) {
            legs.createArray(BitmapMode.CLUSTERED, false);
            ArrayOptions options = ArrayOptions.builder()
                    .startFrozen(true)
                    .syncDepth(syncDepth)
                    .syncYieldRequests(syncYield)
                    .syncBlockSectors(syncBlock / 512)
                    .build();
            try (Raid1Array a = Raid1Array.assemble(legs.openLegs(), options)) {
                WriteLoad.randomSync(a, BLOCK, 1, null, () -> true); // warm-up: every bitmap chunk dirty
                LatencySamples idle = new LatencySamples();
                LatencySamples busy = new LatencySamples();
                long busyNanos = 0;
                long syncedSectors = 0;
                a.syncMax(0); // the pass starts paused at sector 0 (md's sync_max)
                a.syncAction(SyncAction.RESYNC);
                awaitStatus(a, "resync");
                for (int slice = 0; slice < seconds && a.syncStatus().equals("resync"); slice++) {
                    boolean idleFirst = (r + slice) % 2 == 0;
                    if (idleFirst) WriteLoad.randomSync(a, BLOCK, 1, idle, () -> true);
                    long from = syncDone(a);
                    a.syncMax(Long.MAX_VALUE);
                    WriteLoad.Throughput t = WriteLoad.randomSync(
                            a, BLOCK, 1, busy, () -> a.syncStatus().equals("resync"));
                    long paused = System.nanoTime();
                    long to = pause(a);
                    // the pass runs on to the end of its bitmap chunk before it pauses: count that time too
                    busyNanos += t.nanos() + (System.nanoTime() - paused);
                    syncedSectors += to - from;
                    if (!idleFirst) WriteLoad.randomSync(a, BLOCK, 1, idle, () -> true);
                }
                if (busy.count() == 0) throw new IOException("P12: the resync ended before any foreground write ran");
                idleP99[r] = idle.percentileMicros(99);
                busyP99[r] = busy.percentileMicros(99);
                idleP50[r] = idle.percentileMicros(50);
                busyP50[r] = busy.percentileMicros(50);
                idleN[r] = idle.count();
                busyN[r] = busy.count();
                busySeconds[r] = busyNanos / 1e9;
                resyncMib[r] = syncedSectors * 512.0 / (busyNanos / 1e9) / (1 << 20);
                progress(
                        "P12 round %d: idle p99 %.0f us (p50 %.0f, %d writes), during resync p99 %.0f us (p50 %.0f,"
                                + " %d writes in %.1f s, resync at ~%.0f MiB/s)",
                        r + 1,
                        idleP99[r],
                        idleP50[r],
                        idleN[r],
                        busyP99[r],
                        busyP50[r],
                        busyN[r],
                        busySeconds[r],
                        resyncMib[r]);
            }
        }
        return Rounds.paired(
                        new Figure(
                                "P12",
                                "foreground 4 KiB write p99 during a full resync / idle p99 (QD1 blocking" + " writes)",
                                median(busyP99),
                                median(idleP99),
                                "<=2.0",
                                "us"),
                        busyP99,
                        idleP99)
                .with("busy_p50_us_per_round", list(busyP50))
                .with("idle_p50_us_per_round", list(idleP50))
                .with("busy_writes_per_round", longs(busyN))
                .with("idle_writes_per_round", longs(idleN))
                .with("busy_window_s_per_round", list(busySeconds))
                .with("resync_mib_s_per_round", list(resyncMib))
                .with(
                        "config",
                        with(
                                legs.config(),
                                "block_bytes",
                                BLOCK,
                                "qd",
                                1,
                                "seconds_per_side_per_round",
                                seconds,
                                "slice_seconds",
                                1,
                                "sync_depth",
                                syncDepth,
                                "sync_block_bytes",
                                syncBlock,
                                "sync_yield_requests",
                                syncYield,
                                "sync_speed_min_kib",
                                SyncThrottle.DEFAULT_SPEED_MIN,
                                "sync_speed_max_kib",
                                SyncThrottle.DEFAULT_SPEED_MAX,
                                "idle",
                                "same array, the resync paused with sync_max between busy slices"));
    }

    /**
     * Pauses the running pass with sync_max just past what it has issued (md's way: the pass
     * stops before sync_max and waits) and waits until its requests in flight completed.
     *
     * @return the sector the pass completed up to; the whole size when the pass ended
     */
    static long pause(Raid1Array a) throws IOException, InterruptedException {
        long margin = 16_384; // 8 MiB: past the requests in flight, so setting it rarely races the pass
        long limit;
        for (; ; ) {
            if (!a.syncStatus().equals("resync")) return a.sizeSectors();
            limit = syncDone(a) + margin;
            try {
                a.syncMax(limit);
                break;
            } catch (Raid1Exception e) {
                if (e.code() != Raid1Exception.Code.BUSY) throw e; // the pass moved on meanwhile: retry
            }
        }
        // the pass looks at sync_max only between bitmap chunks: it is paused when it got past the
        // limit and has made no progress for 50 ms
        long deadline = System.nanoTime() + 30_000_000_000L;
        long last = -1;
        int still = 0;
        while (a.syncStatus().equals("resync")) {
            long done = syncDone(a);
            still = done == last ? still + 1 : 0;
            last = done;
            if (done >= limit && still >= 5) return done;
            if (System.nanoTime() > deadline) throw new IOException("the resync did not pause at sync_max " + limit);
            Thread.sleep(10);
        }
        return a.sizeSectors();
    }

    /** Sectors the running pass has completed ("done / total" of sync_completed), 0 when none runs. */
    static long syncDone(Raid1Array a) {
        String s = a.syncCompleted();
        int slash = s.indexOf('/');
        return slash < 0 ? 0 : Long.parseLong(s.substring(0, slash).trim());
    }

    /** Waits (bounded) until the array's sync status reads {@code status}. */
    static void awaitStatus(Raid1Array a, String status) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        while (!a.syncStatus().equals(status)) {
            if (System.nanoTime() > deadline) {
                throw new IOException("sync status stayed " + a.syncStatus() + ", expected " + status);
            }
            Thread.sleep(1);
        }
    }

    // ------------------------------------------------------------------ helpers

    static void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }
}
