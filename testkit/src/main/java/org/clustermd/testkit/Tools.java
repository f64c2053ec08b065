package org.clustermd.testkit;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The Debian tools the tests drive as oracles and peers (mdadm, losetup, jq, ...): where each
 * is, the rule for a missing one, and running one to completion.
 *
 * <p>A test that needs a tool never skips silently: {@link #require} fails it with the exact
 * {@code apt-get install} line, which {@code bin/test} would have run as root. Every run is
 * bounded by a {@link Timing}-scaled timeout and its process is killed past it.
 */
public final class Tools {
    /** Where Debian installs tools; searched after PATH, since a non-root PATH often lacks the sbin directories. */
    private static final List<String> SYSTEM_DIRS =
            List.of("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin");
    /** How long a tool run may take by default, before scaling. */
    private static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(60);

    private Tools() {}

    /** The path of {@code tool}, on PATH or in the system directories; empty when it is not installed. */
    public static Optional<Path> find(String tool) {
        List<String> dirs = new ArrayList<>();
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty()) dirs.add(d);
        }
        dirs.addAll(SYSTEM_DIRS);
        for (String d : dirs) {
            Path p = Path.of(d, tool);
            if (Files.isExecutable(p)) return Optional.of(p);
        }
        return Optional.empty();
    }

    /** True when {@code tool} is installed. */
    public static boolean have(String tool) {
        return find(tool).isPresent();
    }

    /**
     * The path of {@code tool}, or an {@link AssertionError} that names the line to run:
     * {@code apt-get install aptPackage}.
     */
    public static Path require(String tool, String aptPackage) {
        return find(tool)
                .orElseThrow(() -> new AssertionError(tool + " is not installed: apt-get install " + aptPackage
                        + " (bin/test installs it when run as root)"));
    }

    /** The outcome of a finished command: its exit code and its stdout and stderr together. */
    public record Result(int exit, String output) {}

    /**
     * Runs {@code cmd} with {@code stdin} (null for none), waiting at most {@code timeout} times
     * the scale; past that the process is killed and the test fails with what it printed.
     */
    public static Result exec(Duration timeout, String stdin, List<String> cmd)
            throws IOException, InterruptedException {
        Duration limit = Timing.scaled(timeout);
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        // stdout is read on its own thread so that a chatty tool cannot block on a full pipe while we wait for it
        byte[][] out = new byte[1][];
        Thread reader = new Thread(
                () -> {
                    try {
                        out[0] = p.getInputStream().readAllBytes();
                    } catch (IOException e) {
                        out[0] = ("(output lost: " + e + ")").getBytes(StandardCharsets.UTF_8);
                    }
                },
                "testkit-tool-output");
        reader.start();
        try {
            if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
            p.getOutputStream().close();
        } catch (IOException e) {
            // a tool that exits without reading its input closes the pipe; its exit code tells the rest
        }
        if (!p.waitFor(limit.toNanos(), TimeUnit.NANOSECONDS)) {
            p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            reader.join(5_000);
            throw new AssertionError(String.join(" ", cmd) + " did not finish within " + limit.toMillis()
                    + " ms; output:\n" + text(out[0]));
        }
        reader.join(Timing.scaled(Duration.ofSeconds(10)).toMillis());
        return new Result(p.exitValue(), text(out[0]));
    }

    /** {@link #exec} with the default timeout (60 s, scaled), failing the test unless the command exits 0; returns its output. */
    public static String run(String stdin, String... cmd) throws IOException, InterruptedException {
        return runWithin(DEFAULT_TIMEOUT, stdin, cmd);
    }

    /** {@link #exec}, failing the test unless the command exits 0; returns its output. */
    public static String runWithin(Duration timeout, String stdin, String... cmd)
            throws IOException, InterruptedException {
        Result r = exec(timeout, stdin, List.of(cmd));
        if (r.exit() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " exited with " + r.exit() + ":\n" + r.output());
        }
        return r.output();
    }

    /** {@code jq -r FILTER} over {@code json}, trimmed; jq must be installed (apt package jq). */
    public static String jq(String json, String filter) throws IOException, InterruptedException {
        return run(json, require("jq", "jq").toString(), "-r", filter).trim();
    }

    private static String text(byte[] b) {
        return b == null ? "" : new String(b, StandardCharsets.UTF_8);
    }
}
