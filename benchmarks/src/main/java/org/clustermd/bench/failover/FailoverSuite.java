package org.clustermd.bench.failover;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.bench.Figure;
import org.clustermd.bench.Suite;
import org.clustermd.bench.storage.Percentiles;
import org.clustermd.bench.storage.Rounds;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.cluster.ClusterCoordinator;
import org.clustermd.cluster.ClusterListener;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;

/**
 * {@code benchmarks/run failover [--rounds 5] [--session-ms 4000] [--dir PATH]}: P11, the time
 * from SIGKILL of a node to the survivor's recovery being over with its writes flowing, minus
 * the session timeout ZooKeeper granted the killed node (the wait every design on session
 * expiry pays; the figure is what recovery adds to it).
 *
 * <p>One round: a victim, {@code clustermd node} in a JVM of its own writing stamped blocks into
 * its region without pause (so its bitmap slot is dirty when it dies), and a survivor in this
 * JVM, a {@link ClusterCoordinator} and its array, writing 4 KiB blocks into its own region
 * without pause. The victim is killed with SIGKILL; the round ends when the survivor has had
 * recover_done for the death, has moved the victim's dirty bits into its bitmap (md's
 * {@code recover_bitmaps}; read balancing resumes then) and a write it issued after both has
 * completed. The resync of the moved chunks that follows is not part of the figure (P10 and P12
 * measure resyncs). The victim comes back under the same name for the next round, in the same
 * slot. ZooKeeper runs in this JVM with a 200 ms tick, so session expiry is not rounded up to
 * a coarse tick. There is no peer: the figure is seconds, the goal {@code <=2}.
 *
 * <p>Not thread-safe; run once.
 */
public final class FailoverSuite implements Suite {
    private static final long CHUNK = 1 << 20;
    private static final long LEG_BYTES = 64L << 20;
    private static final long SURVIVOR_REGION = 8L << 20;
    private static final long VICTIM_OFFSET = 32L << 20;
    private static final long VICTIM_LENGTH = 8L << 20;
    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final Pattern GRANTED = Pattern.compile("ZooKeeper granted a session timeout of (\\d+) ms.*");

    @Override
    public String name() {
        return "failover";
    }

    @Override
    public List<Figure> run(BenchOptions o) throws BenchException {
        int rounds = o.intValue("rounds", 5);
        int sessionMs = o.intValue("session-ms", 4000);
        Path dir = tempDir(o.dir());
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                Files.createDirectories(dir.resolve("zk")),
                0,
                ZooKeeperSettings.builder().tickTimeMs(200).build())) {
            List<Path> legs = createArray(dir);
            return List.of(p11(zk.connectString(), legs, dir, rounds, sessionMs));
        } catch (IOException e) {
            throw new BenchException("failover suite: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted");
        } finally {
            deleteQuietly(dir);
        }
    }

    private static List<Path> createArray(Path dir) throws IOException, BenchException {
        List<Path> legs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path f = dir.resolve("leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(LEG_BYTES);
            }
            legs.add(f);
        }
        try {
            ArrayCreator.create(
                    CreateOptions.builder("md-failover")
                            .clusterName("bench-failover")
                            .nodes(2)
                            .bitmapChunk(CHUNK)
                            .assumeClean(true)
                            .build(),
                    legs);
        } catch (Exception e) {
            throw new BenchException("creating the array: " + e.getMessage(), e);
        }
        return legs;
    }

    private Figure p11(String cs, List<Path> legs, Path dir, int rounds, int sessionMs)
            throws BenchException, IOException, InterruptedException {
        Moments moments = new Moments();
        ClusterCoordinator cluster = ClusterCoordinator.builder()
                .connectString(cs)
                .nodeName("survivor")
                .sessionTimeout(Duration.ofMillis(sessionMs))
                .listener(moments)
                .build();
        List<BlockDevice> devices = new ArrayList<>();
        for (Path p : legs) devices.add(BlockDevices.open(p));
        double[] ours = new double[rounds];
        long[] grantedMs = new long[rounds];
        long[] doneMs = new long[rounds];
        long[] copiedMs = new long[rounds];
        long[] flowingMs = new long[rounds];
        long[] dirtyChunks = new long[rounds];
        try (Raid1Array survivor = Raid1Array.assemble(
                        devices,
                        ArrayOptions.builder()
                                .name("md-survivor")
                                .cluster(cluster)
                                .build());
                Writer writer = new Writer(survivor)) {
            writer.start();
            for (int r = 0; r < rounds; r++) {
                Victim v = Victim.start(cs, legs, dir, sessionMs);
                try {
                    grantedMs[r] = v.awaitReady(sessionMs);
                    // the victim's writes dirty its slot; the survivor sees it as a member
                    Thread.sleep(1000);
                    if (!cluster.members().contains(new NodeSlot(v.slot)))
                        throw new BenchException("the survivor does not see the victim in slot " + v.slot);
                    moments.arm(v.slot);
                    long kill = System.nanoTime();
                    v.kill();
                    long done = moments.awaitDone(WAIT);
                    long copied = moments.awaitCopied(WAIT);
                    long flowing = writer.awaitWriteIssuedAfter(Math.max(done, copied), WAIT);
                    doneMs[r] = TimeUnit.NANOSECONDS.toMillis(done - kill);
                    copiedMs[r] = TimeUnit.NANOSECONDS.toMillis(copied - kill);
                    flowingMs[r] = TimeUnit.NANOSECONDS.toMillis(flowing - kill);
                    dirtyChunks[r] = moments.dirtyChunks();
                    ours[r] = (flowing - kill) / 1e9 - grantedMs[r] / 1000.0;
                    System.err.printf(
                            "failover round %d: recover_done %d ms, bits moved %d ms (%d chunks), writes flowing %d ms"
                                    + " after SIGKILL; session timeout %d ms%n",
                            r + 1, doneMs[r], copiedMs[r], dirtyChunks[r], flowingMs[r], grantedMs[r]);
                } finally {
                    v.close();
                }
                survivor.awaitSyncIdle(WAIT);
            }
            if (writer.failure() != null) throw new BenchException("survivor write failed: " + writer.failure());
        } catch (Raid1Exception e) {
            throw new BenchException("the survivor: " + e.getMessage(), e);
        }
        double m = Percentiles.median(ours);
        return new Figure(
                        "P11",
                        "SIGKILL of a node to recover_done on the survivor with writes flowing, minus the session timeout",
                        m,
                        Double.NaN,
                        m,
                        "<=2",
                        "s")
                .with("rounds", rounds)
                .with("ours_per_round", list(ours))
                .with("session_timeout_ms", Rounds.longs(grantedMs))
                .with("recover_done_ms", Rounds.longs(doneMs))
                .with("bits_moved_ms", Rounds.longs(copiedMs))
                .with("writes_flowing_ms", Rounds.longs(flowingMs))
                .with("dirty_chunks_moved", Rounds.longs(dirtyChunks))
                .with(
                        "config",
                        "2 nodes, victim a separate JVM (clustermd node --workload), survivor in this JVM; "
                                + "ZooKeeper 1 server in this JVM, tick 200 ms; session asked " + sessionMs + " ms")
                // the server's session clock runs from the victim's last request (a lease renewal
                // at most T/12 before the kill), so a round may come out slightly below zero
                .with("note", "the victim's session expires a session timeout after its last request, not its kill");
    }

    private static List<Double> list(double[] v) {
        List<Double> l = new ArrayList<>();
        for (double d : v) l.add(d);
        return l;
    }

    /** What the survivor's listener saw of the armed death, with when. */
    private static final class Moments implements ClusterListener {
        private final Object lock = new Object();
        private int slot = -1;
        private long done;
        private long copied;
        private long chunks;

        void arm(int victimSlot) {
            synchronized (lock) {
                slot = victimSlot;
                done = 0;
                copied = 0;
                chunks = 0;
            }
        }

        @Override
        public void recoverDone(Set<NodeSlot> members) {
            long now = System.nanoTime();
            synchronized (lock) {
                if (slot >= 0 && done == 0 && !members.contains(new NodeSlot(slot))) {
                    done = now;
                    lock.notifyAll();
                }
            }
        }

        @Override
        public void slotRecovered(NodeSlot dead, SlotCopy copy) {
            long now = System.nanoTime();
            synchronized (lock) {
                if (dead.number() == slot && copied == 0) {
                    copied = now;
                    chunks = copy.dirtyChunks();
                    lock.notifyAll();
                }
            }
        }

        long awaitDone(Duration max) throws BenchException, InterruptedException {
            return await(max, true);
        }

        long awaitCopied(Duration max) throws BenchException, InterruptedException {
            return await(max, false);
        }

        long dirtyChunks() {
            synchronized (lock) {
                return chunks;
            }
        }

        private long await(Duration max, boolean recoverDone) throws BenchException, InterruptedException {
            long deadline = System.nanoTime() + max.toNanos();
            synchronized (lock) {
                while ((recoverDone ? done : copied) == 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0)
                        throw new BenchException((recoverDone ? "no recover_done" : "no recovery of the dead slot")
                                + " within " + max.toSeconds() + " s");
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                }
                return recoverDone ? done : copied;
            }
        }
    }

    /** The survivor's writer: 4 KiB blocks into its own region, one after the other, without pause. */
    private static final class Writer implements AutoCloseable {
        private final Raid1Array array;
        private final Thread thread;
        private final AtomicBoolean stop = new AtomicBoolean();
        /** Guarded by this: when the last completed write was issued, and when it completed. */
        private long lastIssued;

        private long lastCompleted;
        private volatile Exception failure;

        Writer(Raid1Array array) {
            this.array = array;
            this.thread = new Thread(this::loop, "failover-writer");
            this.thread.setDaemon(true);
        }

        void start() {
            thread.start();
        }

        private void loop() {
            ByteBuffer block = AlignedBuffers.allocate(4096);
            long offset = 0;
            while (!stop.get()) {
                long issued = System.nanoTime();
                try {
                    block.clear().limit(4096);
                    array.write(offset, block);
                } catch (IOException e) {
                    failure = e;
                    return;
                }
                long completed = System.nanoTime();
                synchronized (this) {
                    lastIssued = issued;
                    lastCompleted = completed;
                    notifyAll();
                }
                offset = (offset + 4096) % SURVIVOR_REGION;
            }
        }

        /** The completion time of the first write issued after {@code after}. */
        synchronized long awaitWriteIssuedAfter(long after, Duration max) throws BenchException, InterruptedException {
            long deadline = System.nanoTime() + max.toNanos();
            while (lastIssued - after < 0) {
                if (failure != null) throw new BenchException("survivor write failed: " + failure);
                long left = deadline - System.nanoTime();
                if (left <= 0) throw new BenchException("the survivor's writes did not flow again");
                TimeUnit.NANOSECONDS.timedWait(this, left);
            }
            return lastCompleted;
        }

        Exception failure() {
            return failure;
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(WAIT.toMillis());
        }
    }

    /** The victim: {@code clustermd node --workload} in a JVM of its own, killed with SIGKILL. */
    private static final class Victim implements AutoCloseable {
        private final Process process;
        private final Path err;
        private final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        int slot = -1;

        private Victim(Process process, Path err) {
            this.process = process;
            this.err = err;
            Thread reader = new Thread(
                    () -> {
                        try (BufferedReader r = new BufferedReader(
                                new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                            for (String l = r.readLine(); l != null; l = r.readLine()) lines.add(l);
                        } catch (IOException e) {
                            // the process is gone
                        }
                    },
                    "failover-victim-out");
            reader.setDaemon(true);
            reader.start();
        }

        static Victim start(String cs, List<Path> legs, Path dir, int sessionMs) throws IOException {
            String java = ProcessHandle.current()
                    .info()
                    .command()
                    .orElse(Paths.get(System.getProperty("java.home"), "bin", "java")
                            .toString());
            List<String> cmd = new ArrayList<>();
            cmd.add(java);
            for (String a : ManagementFactory.getRuntimeMXBean().getInputArguments()) {
                if (!a.startsWith("-agentlib:jdwp") && !a.startsWith("-Xrunjdwp") && !a.startsWith("-Xmx")) cmd.add(a);
            }
            cmd.add("-Xmx256m");
            cmd.add("-cp");
            cmd.add(System.getProperty("java.class.path"));
            cmd.add("org.clustermd.cluster.cli.ClusterMdMain");
            cmd.add("node");
            cmd.add("--zk");
            cmd.add(cs);
            cmd.add("--name");
            cmd.add("md-failover");
            cmd.add("--node-name");
            cmd.add("victim");
            cmd.add("--session-timeout");
            cmd.add(Integer.toString(sessionMs));
            cmd.add("--workload");
            // the CLI reads a bare number as KiB
            cmd.add((VICTIM_OFFSET >> 20) + "M:" + (VICTIM_LENGTH >> 20) + "M");
            cmd.add("--ack-log");
            cmd.add(dir.resolve("victim-acks-" + System.nanoTime()).toString());
            for (Path p : legs) cmd.add(p.toString());
            Path err = dir.resolve("victim.err");
            Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
            return new Victim(p, err);
        }

        /**
         * Waits for the victim's join and workload; returns the session timeout it was granted
         * (the node says so before it starts writing when it is not the one it asked for).
         */
        long awaitReady(int askedMs) throws BenchException, InterruptedException {
            Pattern joined = Pattern.compile("joined slot (\\d+) of .*");
            long granted = askedMs;
            boolean writing = false;
            long deadline = System.nanoTime() + WAIT.toNanos();
            while (slot < 0 || !writing) {
                String l = lines.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                if (l == null) throw new BenchException("the victim node did not start: " + lastLines());
                System.err.println("victim: " + l);
                Matcher m = joined.matcher(l);
                if (m.matches()) slot = Integer.parseInt(m.group(1));
                Matcher g = GRANTED.matcher(l);
                if (g.matches()) granted = Long.parseLong(g.group(1));
                if (l.startsWith("writing [")) writing = true;
            }
            return granted;
        }

        private String lastLines() {
            try {
                List<String> all = Files.readAllLines(err);
                return String.join("\n", all.subList(Math.max(0, all.size() - 20), all.size()));
            } catch (IOException e) {
                return "(no " + err + ": " + e.getMessage() + ")";
            }
        }

        void kill() {
            process.destroyForcibly(); // SIGKILL
        }

        @Override
        public void close() throws InterruptedException {
            process.destroyForcibly();
            process.waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static Path tempDir(Path base) throws BenchException {
        try {
            Files.createDirectories(base);
            return Files.createTempDirectory(base, "clustermd-failover-bench");
        } catch (IOException e) {
            throw new BenchException("cannot create a directory under " + base + ": " + e.getMessage(), e);
        }
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            // best effort
        }
    }
}
