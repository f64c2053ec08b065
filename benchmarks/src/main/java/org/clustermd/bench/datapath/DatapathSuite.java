package org.clustermd.bench.datapath;

import static org.clustermd.bench.storage.Percentiles.list;
import static org.clustermd.bench.storage.Percentiles.median;
import static org.clustermd.bench.storage.Rounds.longs;
import static org.clustermd.bench.storage.Rounds.wanted;
import static org.clustermd.bench.storage.Rounds.with;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.RawZooKeeper;
import org.clustermd.bench.Suite;
import org.clustermd.bench.storage.Fio;
import org.clustermd.bench.storage.FioReport;
import org.clustermd.bench.storage.LatencySamples;
import org.clustermd.bench.storage.LegFiles;
import org.clustermd.bench.storage.RawLegs;
import org.clustermd.bench.storage.Rounds;
import org.clustermd.bench.storage.WriteLoad;
import org.clustermd.cluster.ClusterCoordinator;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.io.BlockDevice;

/**
 * {@code benchmarks/run datapath [--rounds 5] [--seconds 5] [--dir /var/tmp] [--size 1G]
 * [--engine aio|threads] [--bitmap-chunk 64M] [--figures P1,P2,P3,P4]} (P2 brings P2raw): the data-path figures
 * of docs/design.md §7.
 *
 * <ul>
 *   <li>P1: 4 KiB random writes, 32 in flight, on a 2-leg array with its clustered bitmap, ÷
 *       fio libaio O_DIRECT writing both legs at once ({@code peers mirror-randwrite}; the
 *       mirrored figure is the slower leg's IOPS). Our side is one thread that submits each
 *       write at once and reaps its own writes, as each fio job does
 *       ({@code WriteLoad.randomQueued}).</li>
 *   <li>P2: 1 MiB sequential writes, 8 in flight, one pass over the array ÷ fio writing both
 *       legs with an fdatasync at every bitmap chunk boundary (the slower leg's MiB/s): the
 *       flushes md's rule costs (a new bit durable before the data write), so both sides keep
 *       the same durability. P2raw: the same pass ÷ fio that never flushes
 *       ({@code peers mirror-seqwrite}). Two more series, the same pass written to the two legs'
 *       devices with each slot waiting for both legs (no array), without and with a flushed
 *       bitmap page per chunk, show what mirroring and the rule cost against fio's two
 *       independent queues. Every side of P2 writes from buffers on transparent huge pages
 *       (ours and the floors from {@code HugePageBuffers}, fio through glibc's malloc
 *       tunable): on scattered 4 KiB pages a 1 MiB write is ~250 segments, and how many the
 *       device takes at once decided the figure more than the data path did
 *       (docs/lessons.md §70).</li>
 *   <li>P3: the same array with the bitmap ÷ without one ({@code --bitmap=none}): 4 KiB random
 *       writes at qd32, and one blocking 4 KiB write at a time (QD1).</li>
 *   <li>P4: ZooKeeper writes per data write at steady state, with the array a member of a real
 *       lockspace on an embedded ZooKeeper in this JVM: the zxid distance of two marker creates
 *       around the workload counts every write the server committed in between (dlm-adapter's
 *       WriteCountTest method).</li>
 * </ul>
 *
 * <p>All sides run on the same two pre-written leg files: fio with {@code --offset} =
 * data_offset and {@code --size} = the array size, ours through arrays created afresh for each
 * run ({@code --assume-clean}) and assembled with md's defaults. A round gives each side
 * {@code --seconds} of time-based load (P1, P3) or one pass (P2). Because the disk's speed here
 * drifts within seconds, the time-based load is cut into 1-second slices run side after side,
 * the order reversed every slice (ABC CBA ...); a side's round value is the mean of its slices.
 * The sequential passes alternate their order every round. The figure is the median over
 * rounds; every round's values and the median of the per-round ratios are in the details.
 * Before the rounds each of our configurations runs once unrecorded, so the JIT has compiled
 * the data path (fio needs no warm-up). A timed random-write run starts on an array whose
 * bitmap bits are already set for its working set (one untimed write per bitmap chunk), as they
 * are all along in a long run: setting 16 bits costs 16 bitmap flushes once, which a 1-second
 * slice on a fresh array would otherwise pay every time. The sequential pass sets its bits as it
 * goes, as a long sequential stream does.
 *
 * <p>Not thread-safe; run once.
 */
public final class DatapathSuite implements Suite {
    private static final int BLOCK = 4096;
    private static final int DEPTH = 32;
    private static final int SEQ_BLOCK = 1 << 20;
    /** The first page of a v1.2 leg's bitmap area: superblock at 4 KiB, bitmap_offset +8 sectors. */
    private static final long BITMAP_PAGE_OFFSET = 8192;

    private static final int SEQ_DEPTH = 8;

    @Override
    public String name() {
        return "datapath";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 5);
        int seconds = o.intValue("seconds", 5);
        try (LegFiles legs = LegFiles.create(o, "datapath", 2)) {
            return measure(legs, o, rounds, seconds);
        } catch (IOException e) {
            throw new BenchException("datapath suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted", e);
        }
    }

    /** One side's measurement; {@link #alternate} runs them in order, then reversed. */
    private interface Step {
        void run() throws IOException, InterruptedException, BenchException;
    }

    private static void alternate(int round, List<Step> steps)
            throws IOException, InterruptedException, BenchException {
        List<Step> order = new ArrayList<>(steps);
        if (round % 2 == 1) Collections.reverse(order);
        for (Step s : order) s.run();
    }

    private List<Figure> measure(LegFiles legs, BenchOptions o, int rounds, int seconds)
            throws IOException, InterruptedException, BenchException {
        legs.createArray(BitmapMode.CLUSTERED, true);
        long offset = legs.dataOffsetBytes();
        long size = legs.arrayBytes();
        List<String> randCmd = Fio.mirrorRandwrite(legs.leg(0), legs.leg(1), offset, size, 1);
        List<String> seqCmd = Fio.mirrorSeqwrite(legs.leg(0), legs.leg(1), offset, size);
        List<String> seqFlushedCmd =
                Fio.mirrorSeqwriteFlushedPerChunk(legs.leg(0), legs.leg(1), offset, size, legs.chunkBytes());
        boolean rand = wanted(o, "P1") || wanted(o, "P3");
        boolean seq = wanted(o, "P2");
        boolean qd1 = wanted(o, "P3");
        progress(
                "datapath: %d rounds, %d s per side per round, array %d MiB at data_offset %d on %s",
                rounds, seconds, size >> 20, offset, legs.dir());

        warmUp(legs, rand || qd1, seq);
        double[] peerRand = new double[rounds];
        double[] peerLeg0 = new double[rounds];
        double[] peerLeg1 = new double[rounds];
        double[] onRand = new double[rounds];
        double[] offRand = new double[rounds];
        double[] peerSeq = new double[rounds];
        double[] peerSeqFlushed = new double[rounds];
        double[] onSeq = new double[rounds];
        double[] rawSeq = new double[rounds];
        double[] bitSeq = new double[rounds];
        double[] mdSeq = new double[rounds];
        long[] onFlushes = new long[rounds];
        long[] mdFlushes = new long[rounds];
        double[] onQd1 = new double[rounds];
        double[] offQd1 = new double[rounds];
        double[] onQd1P50 = new double[rounds];
        double[] offQd1P50 = new double[rounds];
        double[] onQd1P99 = new double[rounds];
        double[] offQd1P99 = new double[rounds];
        String[] commands = new String[3];
        for (int round = 0; round < rounds; round++) {
            int r = round;
            if (rand) {
                for (int slice = 0; slice < seconds; slice++) {
                    alternate(
                            r * seconds + slice,
                            List.of(
                                    () -> {
                                        FioReport f = Fio.run(randCmd, legs.dir(), 120L);
                                        commands[0] = f.command();
                                        peerRand[r] += f.minWriteIops() / seconds;
                                        peerLeg0[r] += f.jobs().get(0).writeIops() / seconds;
                                        peerLeg1[r] += f.jobs().get(1).writeIops() / seconds;
                                    },
                                    () -> onRand[r] += oursRandom(legs, BitmapMode.CLUSTERED, 1) / seconds,
                                    () -> offRand[r] += oursRandom(legs, BitmapMode.NONE, 1) / seconds));
                }
                progress(
                        "round %d randwrite qd32: fio %.0f IOPS (legs %.0f / %.0f), ours bitmap on %.0f, off %.0f",
                        r + 1, peerRand[r], peerLeg0[r], peerLeg1[r], onRand[r], offRand[r]);
            }
            if (seq) {
                alternate(
                        r,
                        List.of(
                                () -> {
                                    FioReport f = Fio.run(seqCmd, legs.dir(), 600, true);
                                    commands[1] = f.command();
                                    peerSeq[r] = f.minWriteMibPerSecond();
                                },
                                () -> {
                                    FioReport f = Fio.run(seqFlushedCmd, legs.dir(), 600, true);
                                    commands[2] = f.command();
                                    peerSeqFlushed[r] = f.minWriteMibPerSecond();
                                },
                                () -> onSeq[r] = oursSequential(legs, ArrayOptions.defaults(), onFlushes, r),
                                () -> mdSeq[r] = oursSequential(
                                        legs,
                                        ArrayOptions.builder()
                                                .bitmapLookAhead(0)
                                                .build(),
                                        mdFlushes,
                                        r),
                                () -> rawSeq[r] = coupledSequential(legs),
                                () -> bitSeq[r] = coupledSequentialWithBitFlushes(legs)));
                progress(
                        "round %d seqwrite 1 MiB qd8: fio with an fdatasync per bitmap chunk %.1f MiB/s, ours %.1f"
                                + " MiB/s, fio without flushes %.1f MiB/s (legs coupled, no array: %.1f; the same with a flushed"
                                + " bitmap page per chunk: %.1f; ours without bits set ahead: %.1f; bitmap flushes per pass %d, %d"
                                + " without)",
                        r + 1,
                        peerSeqFlushed[r],
                        onSeq[r],
                        peerSeq[r],
                        rawSeq[r],
                        bitSeq[r],
                        mdSeq[r],
                        onFlushes[r],
                        mdFlushes[r]);
            }
            if (qd1) {
                LatencySamples onLat = new LatencySamples();
                LatencySamples offLat = new LatencySamples();
                for (int slice = 0; slice < seconds; slice++) {
                    alternate(
                            r * seconds + slice,
                            List.of(
                                    () -> onQd1[r] += oursSync(legs, BitmapMode.CLUSTERED, 1, onLat) / seconds,
                                    () -> offQd1[r] += oursSync(legs, BitmapMode.NONE, 1, offLat) / seconds));
                }
                onQd1P50[r] = onLat.percentileMicros(50);
                onQd1P99[r] = onLat.percentileMicros(99);
                offQd1P50[r] = offLat.percentileMicros(50);
                offQd1P99[r] = offLat.percentileMicros(99);
                progress(
                        "round %d QD1: bitmap on %.0f IOPS (p50 %.0f us), off %.0f IOPS (p50 %.0f us)",
                        r + 1, onQd1[r], onQd1P50[r], offQd1[r], offQd1P50[r]);
            }
        }

        Map<String, Object> config = legs.config();
        List<Figure> out = new ArrayList<>();
        if (wanted(o, "P1")) {
            out.add(Rounds.paired(
                            new Figure(
                                    "P1",
                                    "4 KiB randwrite qd32, 2-leg mirror with clustered bitmap / fio libaio writing"
                                            + " both legs",
                                    median(onRand),
                                    median(peerRand),
                                    ">=0.90",
                                    "IOPS"),
                            onRand,
                            peerRand)
                    .with("peer_leg0_per_round", list(peerLeg0))
                    .with("peer_leg1_per_round", list(peerLeg1))
                    .with(
                            "config",
                            with(
                                    config,
                                    "block_bytes",
                                    BLOCK,
                                    "qd",
                                    DEPTH,
                                    "seconds_per_round",
                                    seconds,
                                    "slice_seconds",
                                    1,
                                    "bitmap",
                                    "clustered"))
                    .with(
                            "ours_loop",
                            "one thread submits each write in an io_submit of its own (both legs) and reaps its"
                                    + " own writes (AioPoller), as each fio job submits and reaps on its own thread")
                    .with("peer_command", "min of the two legs' IOPS: " + commands[0]));
        }
        if (seq) {
            // P2 holds the peer to the rule the array keeps (a new bit durable before the data write
            // costs one flush per bitmap chunk); P2raw is against fio that never flushes
            Map<String, Object> seqConfig = with(
                    config,
                    "block_bytes",
                    SEQ_BLOCK,
                    "qd",
                    SEQ_DEPTH,
                    "bytes_per_run",
                    size,
                    "bitmap",
                    "clustered",
                    "buffers",
                    "transparent huge pages: ours and the floors HugePageBuffers, fio " + Fio.HUGE_PAGE_MALLOC);
            out.add(
                    Rounds.paired(
                                    new Figure(
                                            "P2",
                                            "1 MiB sequential write qd8, 2-leg mirror with clustered bitmap / fio libaio"
                                                    + " writing both legs with an fdatasync at every bitmap chunk boundary",
                                            median(onSeq),
                                            median(peerSeqFlushed),
                                            ">=0.95",
                                            "MiB/s"),
                                    onSeq,
                                    peerSeqFlushed)
                            .with("config", seqConfig)
                            .with("peer_fdatasync_every_bytes", Math.max(1, legs.chunkBytes() / SEQ_BLOCK) * SEQ_BLOCK)
                            .with("peer_command", "min of the two legs' MiB/s: " + commands[2])
                            .with("floor_coupled_legs_per_round", list(rawSeq))
                            .with("floor_coupled_legs_median", median(rawSeq))
                            .with(
                                    "floor_coupled_legs",
                                    "the same 1 MiB qd8 pass written to both legs' BlockDevices with each"
                                            + " slot freed when both legs completed: a mirrored write without the array or bitmap")
                            .with("ours_bitmap_flushes_per_pass_per_round", longs(onFlushes))
                            .with("ours_without_look_ahead_bitmap_flushes_per_pass_per_round", longs(mdFlushes))
                            .with("ours_without_look_ahead_per_round", list(mdSeq))
                            .with("ours_without_look_ahead_median", median(mdSeq))
                            .with(
                                    "ours_without_look_ahead",
                                    "the same pass with bitmapLookAhead 0: one flushed bitmap round per chunk, md's"
                                            + " behaviour (docs/design.md §4)")
                            .with("floor_bit_flushes_per_round", list(bitSeq))
                            .with("floor_bit_flushes_median", median(bitSeq))
                            .with(
                                    "floor_bit_flushes",
                                    "floor_coupled_legs plus, before the first write of each bitmap chunk,"
                                            + " one 4 KiB bitmap page rewritten and flushed on both legs with the submitter waiting:"
                                            + " md's rule that a new bit is durable before the data write (docs/lessons.md §27)"));
            out.add(Rounds.paired(
                            new Figure(
                                    "P2raw",
                                    "1 MiB sequential write qd8, 2-leg mirror with clustered bitmap / fio"
                                            + " libaio writing both legs without flushes",
                                    median(onSeq),
                                    median(peerSeq),
                                    ">=0.90",
                                    "MiB/s"),
                            onSeq,
                            peerSeq)
                    .with("config", seqConfig)
                    .with("peer_command", "min of the two legs' MiB/s: " + commands[1]));
        }
        if (qd1) {
            out.add(Rounds.paired(
                            new Figure(
                                    "P3",
                                    "bitmap on / bitmap off, 4 KiB randwrite qd32",
                                    median(onRand),
                                    median(offRand),
                                    ">=0.95",
                                    "IOPS"),
                            onRand,
                            offRand)
                    .with(
                            "config",
                            with(
                                    config,
                                    "block_bytes",
                                    BLOCK,
                                    "qd",
                                    DEPTH,
                                    "seconds_per_round",
                                    seconds,
                                    "slice_seconds",
                                    1,
                                    "bitmap",
                                    "clustered vs none")));
            out.add(Rounds.paired(
                            new Figure(
                                    "P3",
                                    "bitmap on / bitmap off, 4 KiB random writes at QD1 (one blocking write at a"
                                            + " time)",
                                    median(onQd1),
                                    median(offQd1),
                                    ">=0.85",
                                    "IOPS"),
                            onQd1,
                            offQd1)
                    .with("ours_p50_us_per_round", list(onQd1P50))
                    .with("peer_p50_us_per_round", list(offQd1P50))
                    .with("ours_p99_us_per_round", list(onQd1P99))
                    .with("peer_p99_us_per_round", list(offQd1P99))
                    .with(
                            "config",
                            with(
                                    config,
                                    "block_bytes",
                                    BLOCK,
                                    "qd",
                                    1,
                                    "seconds_per_round",
                                    seconds,
                                    "slice_seconds",
                                    1,
                                    "bitmap",
                                    "clustered vs none",
                                    "fua",
                                    false)));
        }
        if (wanted(o, "P4")) out.add(p4(legs, seconds, config));
        return out;
    }

    private void warmUp(LegFiles legs, boolean random, boolean sequential) throws IOException, InterruptedException {
        long t0 = System.nanoTime();
        if (random) {
            oursRandom(legs, BitmapMode.CLUSTERED, 1);
            oursRandom(legs, BitmapMode.NONE, 1);
            oursSync(legs, BitmapMode.CLUSTERED, 0.5, null);
            oursSync(legs, BitmapMode.NONE, 0.5, null);
        }
        if (sequential) {
            try (Raid1Array a = legs.array(BitmapMode.CLUSTERED, true, ArrayOptions.defaults())) {
                WriteLoad.sequentialQueued(a, SEQ_DEPTH, SEQ_BLOCK, a.size() / 4);
            }
        }
        progress("warm-up of our data path: %.1f s", (System.nanoTime() - t0) / 1e9);
    }

    private static double oursRandom(LegFiles legs, BitmapMode bitmap, double seconds)
            throws IOException, InterruptedException {
        try (Raid1Array a = legs.array(bitmap, true, ArrayOptions.defaults())) {
            WriteLoad.primeBitmap(a);
            return WriteLoad.randomQueued(a, DEPTH, BLOCK, seconds).iops();
        }
    }

    /** One pass; {@code flushes[round]} gets the bitmap flushes it cost (a count the machine's load does not move). */
    private static double oursSequential(LegFiles legs, ArrayOptions options, long[] flushes, int round)
            throws IOException, InterruptedException {
        try (Raid1Array a = legs.array(BitmapMode.CLUSTERED, true, options)) {
            long before = bitmapFlushes(a);
            double mib = WriteLoad.sequentialQueued(a, SEQ_DEPTH, SEQ_BLOCK, a.size())
                    .mibPerSecond();
            flushes[round] = bitmapFlushes(a) - before;
            return mib;
        }
    }

    private static long bitmapFlushes(Raid1Array a) {
        return a.bitmap().map(b -> b.stats().storageFlushes()).orElse(0L);
    }

    private static double coupledSequential(LegFiles legs) throws IOException, InterruptedException {
        List<BlockDevice> devices = legs.openLegs();
        try {
            return RawLegs.coupledWrites(devices, legs.dataOffsetBytes(), legs.arrayBytes(), SEQ_DEPTH, SEQ_BLOCK);
        } finally {
            for (BlockDevice d : devices) d.close();
        }
    }

    private static double coupledSequentialWithBitFlushes(LegFiles legs) throws IOException, InterruptedException {
        List<BlockDevice> devices = legs.openLegs();
        try {
            // the first page of the bitmap area (v1.2: superblock at 4 KiB, bitmap right after it)
            return RawLegs.coupledWritesWithBitFlushes(
                    devices,
                    legs.dataOffsetBytes(),
                    legs.arrayBytes(),
                    SEQ_DEPTH,
                    SEQ_BLOCK,
                    legs.chunkBytes(),
                    BITMAP_PAGE_OFFSET);
        } finally {
            for (BlockDevice d : devices) d.close();
        }
    }

    private static double oursSync(LegFiles legs, BitmapMode bitmap, double seconds, LatencySamples lat)
            throws IOException {
        try (Raid1Array a = legs.array(bitmap, true, ArrayOptions.defaults())) {
            WriteLoad.primeBitmap(a);
            return WriteLoad.randomSync(a, BLOCK, seconds, lat, () -> true).iops();
        }
    }

    // ------------------------------------------------------------------ P4

    private Figure p4(LegFiles legs, int seconds, Map<String, Object> config)
            throws IOException, InterruptedException, BenchException {
        Path zkDir = legs.dir().resolve("zk");
        try (EmbeddedZooKeeper server = EmbeddedZooKeeper.start(zkDir, 0, ZooKeeperSettings.defaults());
                ZkLockManager dlm = ZkLockManager.builder()
                        .connectString(server.connectString())
                        .cluster("bench")
                        .nodeName("p4")
                        .build()) {
            ZooKeeper zk = connect(server.connectString());
            try {
                return countWrites(legs, seconds, config, dlm, zk);
            } finally {
                zk.close();
            }
        } catch (DlmException | KeeperException e) {
            throw new BenchException("P4: " + e.getMessage(), e);
        }
    }

    private Figure countWrites(LegFiles legs, int seconds, Map<String, Object> config, ZkLockManager dlm, ZooKeeper zk)
            throws IOException, InterruptedException, KeeperException {
        long m0 = marker(zk);
        legs.createArray(BitmapMode.CLUSTERED, true);
        // the real md-cluster coordinator, on the manager connected above (it joins at assembly
        // and leaves the lockspace at close; the manager stays ours)
        ClusterCoordinator cluster =
                ClusterCoordinator.builder().lockManager(dlm).build();
        long m1;
        long m2;
        long m3;
        WriteLoad.Throughput t;
        try (Raid1Array a = Raid1Array.assemble(
                legs.openLegs(), ArrayOptions.builder().cluster(cluster).build())) {
            m1 = marker(zk);
            WriteLoad.randomQueued(a, DEPTH, BLOCK, 1); // the array turns active, the bitmap fills
            m2 = marker(zk);
            t = WriteLoad.randomQueued(a, DEPTH, BLOCK, seconds);
            m3 = marker(zk);
        }
        long m4 = marker(zk);
        long steady = m3 - m2 - 1;
        double perWrite = steady / (double) t.ops();
        progress(
                "P4: %d ZooKeeper writes during %d data writes at steady state (join+assemble %d, warm-up %d,"
                        + " stop+leave %d)",
                steady, t.ops(), m1 - m0 - 1, m2 - m1 - 1, m4 - m3 - 1);
        return new Figure(
                        "P4",
                        "ZooKeeper writes per data write at steady state (4 KiB randwrite qd32, array clustered by"
                                + " cluster-md's coordinator on an embedded ZooKeeper)",
                        perWrite,
                        Double.NaN,
                        perWrite,
                        "=0",
                        "writes/write")
                .with("zk_writes", steady)
                .with("data_writes", t.ops())
                .with("iops", t.iops())
                .with("zk_writes_join_and_assemble", m1 - m0 - 1)
                .with("zk_writes_warmup_1s", m2 - m1 - 1)
                .with("zk_writes_stop_and_leave", m4 - m3 - 1)
                .with(
                        "method",
                        "zxid distance of two marker creates around the workload, minus one;"
                                + " counts committed writes only (reads do not get a zxid)")
                .with(
                        "config",
                        with(
                                config,
                                "block_bytes",
                                BLOCK,
                                "qd",
                                DEPTH,
                                "seconds",
                                seconds,
                                "cluster_operations",
                                "cluster-md's ClusterCoordinator: bitmap slot PW and resync NL"
                                        + " held, token EX around superblock updates"));
    }

    /** A plain ZooKeeper session of its own for the marker creates. */
    private static ZooKeeper connect(String cs) throws InterruptedException, BenchException {
        try {
            return RawZooKeeper.connect(cs, Duration.ofSeconds(30), Duration.ofSeconds(30));
        } catch (IOException e) {
            throw new BenchException("P4: " + e.getMessage(), e);
        }
    }

    /** Creates a sequential marker znode and returns its creation zxid. */
    private static long marker(ZooKeeper zk) throws KeeperException, InterruptedException {
        Stat st = new Stat();
        zk.create(
                "/clustermd-bench-marker-",
                new byte[0],
                ZooDefs.Ids.OPEN_ACL_UNSAFE,
                CreateMode.EPHEMERAL_SEQUENTIAL,
                st);
        return st.getCzxid();
    }

    private static void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }
}
