package org.clustermd.cluster.cli;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintWriter;
import java.io.RandomAccessFile;
import java.io.StringWriter;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.clustermd.testkit.Timing;

/**
 * What the CLI tests repeat: running {@link ClusterMdMain} in this JVM with its output captured,
 * sparse leg files, the command line of a {@code clustermd node} in its own JVM (this JVM's
 * arguments and class path), a reader collecting a process's stdout lines, and killing a
 * process a test left running.
 */
final class CliHarness {
    /** An in-process run's exit code, stdout and stderr. */
    record Result(int code, String out, String err) {}

    private CliHarness() {}

    /** {@link ClusterMdMain#run} with stdout and stderr captured. */
    static Result run(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = ClusterMdMain.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Result(code, out.toString(), err.toString());
    }

    /**
     * The arguments of {@code create} for array {@code name} in cluster c1 of 2 nodes, assumed
     * clean, with 1 MiB bitmap chunks; {@code tail} (more options, then the legs) after them.
     */
    static String[] create(String name, String... tail) {
        List<String> a = new ArrayList<>(List.of(
                "create",
                "--name",
                name,
                "--cluster-name",
                "c1",
                "--nodes",
                "2",
                "--assume-clean",
                "--bitmap-chunk",
                "1M"));
        a.addAll(List.of(tail));
        return a.toArray(String[]::new);
    }

    /** Creates (or resizes) {@code f} as a sparse file of {@code bytes}; returns it. */
    static Path file(Path f, long bytes) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        return f;
    }

    /** {@code n} sparse files {@code leg0, leg1, ...} of {@code bytes} in {@code dir}. */
    static List<Path> legs(Path dir, int n, long bytes) throws IOException {
        return legs(dir, "leg", n, bytes);
    }

    /** {@code n} sparse files {@code <prefix>0, <prefix>1, ...} of {@code bytes} in {@code dir}. */
    static List<Path> legs(Path dir, String prefix, int n, long bytes) throws IOException {
        List<Path> legs = new ArrayList<>();
        for (int i = 0; i < n; i++) legs.add(file(dir.resolve(prefix + i), bytes));
        return legs;
    }

    /**
     * The command line of {@code clustermd node nodeArgs} in a new JVM: this JVM's arguments, then
     * {@code jvmArgs}, then this JVM's class path.
     */
    static List<String> nodeCommand(List<String> jvmArgs, List<String> nodeArgs) {
        List<String> cmd = new ArrayList<>(List.of(
                Paths.get(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        cmd.addAll(jvmArgs);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ClusterMdMain.class.getName(), "node"));
        cmd.addAll(nodeArgs);
        return cmd;
    }

    /** A thread, not started, that adds each line {@code process} prints on stdout to {@code lines}. */
    static Thread lineReader(Process process, List<String> lines) {
        return new Thread(() -> {
            try (BufferedReader in =
                    new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = in.readLine()) != null; ) lines.add(l);
            } catch (IOException e) {
                // the process is gone
            }
        });
    }

    /** Sleeps until a line matches {@code what}, {@code timeout} passed or the process died. */
    static void waitForLine(Process process, List<String> lines, Predicate<String> what, Duration timeout)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (lines.stream().noneMatch(what) && System.nanoTime() < deadline && process.isAlive()) {
            Thread.sleep(50);
        }
    }

    /** Kills {@code process} if a test left it running (null: nothing started). */
    static void killLeftover(Process process) throws InterruptedException {
        if (process != null && process.isAlive()) {
            process.destroyForcibly();
            process.waitFor(Timing.seconds(10).toMillis(), TimeUnit.MILLISECONDS);
        }
    }
}
