package org.clustermd.bench.nbd;

import static org.clustermd.bench.storage.Percentiles.list;
import static org.clustermd.bench.storage.Percentiles.median;
import static org.clustermd.bench.storage.Rounds.wanted;
import static org.clustermd.bench.storage.Rounds.with;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.Suite;
import org.clustermd.bench.storage.Fio;
import org.clustermd.bench.storage.FioReport;
import org.clustermd.bench.storage.LegFiles;
import org.clustermd.bench.storage.MachineCpu;
import org.clustermd.bench.storage.Rounds;
import org.clustermd.bench.storage.WriteLoad;
import org.clustermd.cluster.nbd.NbdServer;
import org.clustermd.cluster.nbd.Raid1ArrayTarget;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.BitmapMode;

/**
 * {@code benchmarks/run nbd [--rounds 5] [--seconds 5] [--dir /var/tmp] [--size 1G]
 * [--bitmap-chunk 64M] [--figures P5,P5b]}: the NBD figures of docs/design.md §7, both driven by fio's
 * {@code nbd} engine (libnbd) over TCP on 127.0.0.1.
 *
 * <ul>
 *   <li>P5: our export of a 1-leg array (clustered bitmap, as {@code clustermd node} runs it) ÷
 *       nbdkit's file plugin ({@code cache=none}) serving the same leg file's data area through
 *       its offset filter ({@code peers nbd-randwrite}, {@code nbd-seqwrite}): 4 KiB random
 *       writes at qd32, and one 1 MiB qd8 sequential pass over the array.</li>
 *   <li>P5b: the same two jobs against a 2-leg export ÷ fio libaio O_DIRECT writing both legs
 *       directly ({@code peers mirror-randwrite}, {@code mirror-seqwrite}; the slower leg).</li>
 * </ul>
 *
 * <p>Both servers run for the whole suite and fio runs alternate between them: the random
 * writes in 1-second slices, the order reversed every slice, a side's round value the mean of
 * its slices; the sequential passes alternate their order every round. Each side gets one
 * untimed second of random writes first (our JIT, and the bitmap bits of the working set). A
 * third series runs the same loads on the same array from inside the JVM, without NBD, so the
 * details separate what the export costs from what the array costs.
 * The figure is the median over rounds.
 *
 * <p>Not thread-safe; run once.
 */
public final class NbdSuite implements Suite {
    private static final int BLOCK = 4096;
    private static final int DEPTH = 32;
    private static final int SEQ_DEPTH = 8;
    private static final String FLOOR = "floor_array_without_nbd";
    private static final String FLOOR_TEXT =
            "the same load on the same running array from inside the JVM (no NBD, no TCP),"
                    + " alternating with the two sides: the part of the gap that is the array's, not the export's";

    @Override
    public String name() {
        return "nbd";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 5);
        int seconds = o.intValue("seconds", 5);
        List<Figure> out = new ArrayList<>();
        try {
            if (wanted(o, "P5")) {
                try (LegFiles legs = LegFiles.create(o, "nbd", 1)) {
                    out.addAll(p5(legs, rounds, seconds));
                }
            }
            if (wanted(o, "P5b")) {
                try (LegFiles legs = LegFiles.create(o, "nbd", 2)) {
                    out.addAll(p5b(legs, rounds, seconds));
                }
            }
            return out;
        } catch (IOException e) {
            throw new BenchException("nbd suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted", e);
        }
    }

    /** The same loads on the array in this JVM, without NBD: what the export could at best reach. */
    private static double floorRandom(Raid1Array a) throws BenchException {
        try {
            return WriteLoad.randomQueued(a, DEPTH, BLOCK, 1).iops();
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new BenchException("the array's own random writes failed: " + e.getMessage(), e);
        }
    }

    private static double floorSequential(Raid1Array a) throws BenchException {
        try {
            return WriteLoad.sequentialQueued(a, SEQ_DEPTH, 1 << 20, a.size()).mibPerSecond();
        } catch (IOException | InterruptedException e) {
            if (e instanceof InterruptedException) Thread.currentThread().interrupt();
            throw new BenchException("the array's own sequential writes failed: " + e.getMessage(), e);
        }
    }

    /** What fio drives: a function of the job options. */
    private interface Side {
        FioReport run(List<String> job) throws BenchException;
    }

    /** Our export of an array on {@code legs}, for the life of the suite. */
    private static final class OurExport implements AutoCloseable {
        final Raid1Array array;
        final NbdServer server;

        OurExport(LegFiles legs) throws IOException {
            legs.createArray(BitmapMode.CLUSTERED, true);
            array = Raid1Array.assemble(legs.openLegs(), ArrayOptions.defaults());
            try {
                server = NbdServer.builder()
                        .port(0)
                        .export(new Raid1ArrayTarget(array))
                        .start();
            } catch (IOException | RuntimeException e) {
                array.close();
                throw e;
            }
        }

        String uri() {
            return "nbd://127.0.0.1:" + server.port() + "/" + array.name();
        }

        @Override
        public void close() {
            try {
                server.close();
            } finally {
                array.close();
            }
        }
    }

    private List<Figure> p5(LegFiles legs, int rounds, int seconds)
            throws IOException, InterruptedException, BenchException {
        try (OurExport ours = new OurExport(legs);
                Nbdkit peer = Nbdkit.start(legs.leg(0), legs.dataOffsetBytes(), legs.arrayBytes(), legs.dir())) {
            progress(
                    "nbd P5: %d rounds, %d s per side per round, 1-leg array of %d MiB; ours %s, peer %s",
                    rounds, seconds, legs.arrayBytes() >> 20, ours.uri(), peer.uri());
            Result r = measure(
                    legs, rounds, seconds, ours, job -> Fio.run(nbdJob(peer.uri(), job), legs.dir(), 600), "P5");
            Map<String, Object> config = with(
                    legs.config(),
                    "bitmap",
                    "clustered",
                    "transport",
                    "tcp 127.0.0.1",
                    "client",
                    "fio --ioengine=nbd (libnbd)",
                    "peer",
                    peer.command());
            return List.of(
                    Rounds.paired(
                                    new Figure(
                                            "P5",
                                            "NBD export of a 1-leg array / nbdkit file plugin on the same file, fio nbd"
                                                    + " engine, 4 KiB randwrite qd32",
                                            median(r.oursRand),
                                            median(r.peerRand),
                                            ">=0.90",
                                            "IOPS"),
                                    r.oursRand,
                                    r.peerRand)
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
                                            1))
                            .with("peer_command", r.commands[0])
                            .with("floor_array_without_nbd_per_round", list(r.floorRand))
                            .with("cpu", cpu(r))
                            .with(FLOOR, FLOOR_TEXT),
                    Rounds.paired(
                                    new Figure(
                                            "P5",
                                            "NBD export of a 1-leg array / nbdkit file plugin on the same file, fio nbd"
                                                    + " engine, 1 MiB sequential write qd8",
                                            median(r.oursSeq),
                                            median(r.peerSeq),
                                            ">=0.90",
                                            "MiB/s"),
                                    r.oursSeq,
                                    r.peerSeq)
                            .with(
                                    "config",
                                    with(
                                            config,
                                            "block_bytes",
                                            1 << 20,
                                            "qd",
                                            SEQ_DEPTH,
                                            "bytes_per_run",
                                            legs.arrayBytes()))
                            .with("peer_command", r.commands[1])
                            .with("floor_array_without_nbd_per_round", list(r.floorSeq))
                            .with(FLOOR, FLOOR_TEXT));
        }
    }

    private List<Figure> p5b(LegFiles legs, int rounds, int seconds)
            throws IOException, InterruptedException, BenchException {
        try (OurExport ours = new OurExport(legs)) {
            long off = legs.dataOffsetBytes();
            long size = legs.arrayBytes();
            progress(
                    "nbd P5b: %d rounds, %d s per side per round, 2-leg array of %d MiB; ours %s, peer fio on both legs",
                    rounds, seconds, size >> 20, ours.uri());
            Side peer = job -> Fio.run(
                    job.contains("--rw=write")
                            ? Fio.mirrorSeqwrite(legs.leg(0), legs.leg(1), off, size)
                            : Fio.mirrorRandwrite(legs.leg(0), legs.leg(1), off, size, 1),
                    legs.dir(),
                    600);
            Result r = measure(legs, rounds, seconds, ours, peer, "P5b");
            Map<String, Object> config = with(
                    legs.config(),
                    "bitmap",
                    "clustered",
                    "transport",
                    "tcp 127.0.0.1",
                    "client",
                    "fio --ioengine=nbd (libnbd)");
            return List.of(
                    Rounds.paired(
                                    new Figure(
                                            "P5b",
                                            "NBD export of a 2-leg array, fio nbd engine / fio libaio writing both legs,"
                                                    + " 4 KiB randwrite qd32",
                                            median(r.oursRand),
                                            median(r.peerRand),
                                            ">=0.85",
                                            "IOPS"),
                                    r.oursRand,
                                    r.peerRand)
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
                                            1))
                            .with("peer_command", "min of the two legs' IOPS: " + r.commands[0])
                            .with("floor_array_without_nbd_per_round", list(r.floorRand))
                            .with("cpu", cpu(r))
                            .with(FLOOR, FLOOR_TEXT),
                    Rounds.paired(
                                    new Figure(
                                            "P5b",
                                            "NBD export of a 2-leg array, fio nbd engine / fio libaio writing both legs,"
                                                    + " 1 MiB sequential write qd8",
                                            median(r.oursSeq),
                                            median(r.peerSeq),
                                            ">=0.85",
                                            "MiB/s"),
                                    r.oursSeq,
                                    r.peerSeq)
                            .with(
                                    "config",
                                    with(config, "block_bytes", 1 << 20, "qd", SEQ_DEPTH, "bytes_per_run", size))
                            .with("peer_command", "min of the two legs' MiB/s: " + r.commands[1])
                            .with("floor_array_without_nbd_per_round", list(r.floorSeq))
                            .with(FLOOR, FLOOR_TEXT));
        }
    }

    /** Per-round values of both sides. */
    private static final class Result {
        final double[] oursRand;
        final double[] peerRand;
        final double[] oursSeq;
        final double[] peerSeq;
        final double[] floorRand;
        final double[] floorSeq;
        final String[] commands = new String[2];
        /** The machine's CPU over each side's random-write slices, and the writes those slices did. */
        MachineCpu oursCpu = new MachineCpu(0, 0);

        MachineCpu peerCpu = new MachineCpu(0, 0);
        double oursWrites;
        double peerWrites;

        Result(int rounds) {
            floorRand = new double[rounds];
            floorSeq = new double[rounds];
            oursRand = new double[rounds];
            peerRand = new double[rounds];
            oursSeq = new double[rounds];
            peerSeq = new double[rounds];
        }
    }

    private interface Step {
        void run() throws BenchException;
    }

    private static Result measure(LegFiles legs, int rounds, int seconds, OurExport export, Side peer, String figure)
            throws BenchException {
        Side ours = job -> Fio.run(nbdJob(export.uri(), job), legs.dir(), 600);
        List<String> rand = List.of(
                "--rw=randwrite",
                "--bs=4k",
                "--iodepth=" + DEPTH,
                "--size=" + legs.arrayBytes(),
                "--runtime=1",
                "--time_based");
        List<String> seq = List.of("--rw=write", "--bs=1M", "--iodepth=" + SEQ_DEPTH, "--size=" + legs.arrayBytes());
        ours.run(rand); // untimed: JIT and the bitmap bits of the working set
        peer.run(rand);
        Result r = new Result(rounds);
        for (int round = 0; round < rounds; round++) {
            int k = round;
            for (int slice = 0; slice < seconds; slice++) {
                alternate(
                        k * seconds + slice,
                        List.of(
                                () -> {
                                    MachineCpu before = MachineCpu.now();
                                    double iops = ours.run(rand).minWriteIops();
                                    r.oursCpu = r.oursCpu.plus(MachineCpu.now().since(before));
                                    r.oursWrites += iops;
                                    r.oursRand[k] += iops / seconds;
                                },
                                () -> r.floorRand[k] += floorRandom(export.array) / seconds,
                                () -> {
                                    MachineCpu before = MachineCpu.now();
                                    FioReport f = peer.run(rand);
                                    r.peerCpu = r.peerCpu.plus(MachineCpu.now().since(before));
                                    r.commands[0] = f.command();
                                    r.peerWrites += f.minWriteIops();
                                    r.peerRand[k] += f.minWriteIops() / seconds;
                                }));
            }
            alternate(
                    k,
                    List.of(
                            () -> r.oursSeq[k] = ours.run(seq).minWriteMibPerSecond(),
                            () -> r.floorSeq[k] = floorSequential(export.array),
                            () -> {
                                FioReport f = peer.run(seq);
                                r.commands[1] = f.command();
                                r.peerSeq[k] = f.minWriteMibPerSecond();
                            }));
            progress(
                    "%s round %d: randwrite 4k qd32 ours %.0f IOPS (the array without NBD %.0f), peer %.0f;"
                            + " seqwrite 1M qd8 ours %.1f MiB/s (without NBD %.1f), peer %.1f",
                    figure,
                    k + 1,
                    r.oursRand[k],
                    r.floorRand[k],
                    r.peerRand[k],
                    r.oursSeq[k],
                    r.floorSeq[k],
                    r.peerSeq[k]);
        }
        return r;
    }

    /**
     * The machine's CPU over the random-write slices: how busy it was on each side, what all
     * processes together spent per write (fio, the server, the kernel), and the IOPS our side
     * could reach at most if its per-write CPU were the only limit, ÷ the peer's IOPS. A ceiling
     * below the goal means that on this machine the goal asks for less CPU per write, not a
     * faster disk path.
     */
    private static Map<String, Object> cpu(Result r) {
        int cpus = Runtime.getRuntime().availableProcessors();
        double oursPerWrite = r.oursCpu.busyMicros() / r.oursWrites;
        double peerPerWrite = r.peerCpu.busyMicros() / r.peerWrites;
        double ceiling = cpus * 1e6 / oursPerWrite / median(r.peerRand);
        return Map.of(
                "busy_fraction_ours", round3(r.oursCpu.busyFraction()),
                "busy_fraction_peer", round3(r.peerCpu.busyFraction()),
                "us_per_write_ours", round3(oursPerWrite),
                "us_per_write_peer", round3(peerPerWrite),
                "cpus", cpus,
                "ceiling_ratio_if_cpu_bound", round3(ceiling),
                "note", "whole machine (/proc/stat) over each side's 1 s fio runs, fio's start included");
    }

    private static double round3(double v) {
        return Math.round(v * 1000) / 1000.0;
    }

    private static void alternate(int turn, List<Step> steps) throws BenchException {
        List<Step> order = new ArrayList<>(steps);
        if (turn % 2 == 1) Collections.reverse(order);
        for (Step s : order) s.run();
    }

    /** fio's nbd engine on {@code uri} with the job options; one job named n (the peers script's). */
    private static List<String> nbdJob(String uri, List<String> job) {
        List<String> a = new ArrayList<>(List.of("--ioengine=nbd", "--uri=" + uri));
        a.addAll(job);
        a.add("--name=n");
        return a;
    }

    /** nbdkit's file plugin on a leg's data area (offset filter), on 127.0.0.1 and a free port. */
    private static final class Nbdkit implements AutoCloseable {
        private final Process process;
        private final int port;
        private final List<String> cmd;

        private Nbdkit(Process process, int port, List<String> cmd) {
            this.process = process;
            this.port = port;
            this.cmd = cmd;
        }

        static Nbdkit start(Path file, long offset, long size, Path dir)
                throws IOException, InterruptedException, BenchException {
            int port;
            try (ServerSocket s = new ServerSocket(0)) {
                port = s.getLocalPort();
            }
            List<String> cmd = List.of(
                    "nbdkit",
                    "-f",
                    "-p",
                    String.valueOf(port),
                    "-i",
                    "127.0.0.1",
                    "--filter=offset",
                    "file",
                    file.toString(),
                    "cache=none",
                    "offset=" + offset,
                    "range=" + size);
            Process p;
            try {
                p = new ProcessBuilder(cmd)
                        .redirectErrorStream(true)
                        .redirectOutput(dir.resolve("nbdkit.log").toFile())
                        .start();
            } catch (IOException e) {
                throw new BenchException("cannot run nbdkit (apt-get install nbdkit): " + e.getMessage(), e);
            }
            Nbdkit n = new Nbdkit(p, port, cmd);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (true) {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 200);
                    return n;
                } catch (IOException e) {
                    if (!p.isAlive() || System.nanoTime() > deadline) {
                        n.close();
                        throw new BenchException(
                                "nbdkit did not start listening on 127.0.0.1:" + port + ": " + String.join(" ", cmd));
                    }
                    Thread.sleep(50);
                }
            }
        }

        String uri() {
            return "nbd://127.0.0.1:" + port;
        }

        String command() {
            return String.join(" ", cmd);
        }

        @Override
        public void close() throws InterruptedException {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS))
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
    }

    private static void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }
}
