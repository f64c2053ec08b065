package org.clustermd.bench.storage;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.clustermd.bench.BenchException;

/**
 * The storage peers of docs/design.md §7, run as {@code fio --output-format=json} child processes with
 * the command lines of the reference {@code peers} script: libaio, O_DIRECT, 4 KiB qd32 random
 * writes or 1 MiB qd8 sequential I/O, one job per leg, all jobs at once.
 *
 * <p>One deliberate difference from the script: every job gets {@code --offset} (the array's
 * data_offset) and {@code --size} (the array size), so the peer writes exactly the bytes our
 * array writes on the same leg files and the md superblocks and bitmaps in front stay intact.
 *
 * <p>Stateless and thread-safe; each run is its own process.
 */
public final class Fio {
    /** The environment that puts glibc's malloc, and so fio's I/O buffers, on transparent huge pages. */
    public static final String HUGE_PAGE_MALLOC = "GLIBC_TUNABLES=glibc.malloc.hugetlb=1";

    private Fio() {}

    /** {@code peers mirror-randwrite}: 4 KiB random writes, qd32, time based, on both legs at once. */
    public static List<String> mirrorRandwrite(Path leg0, Path leg1, long offset, long size, int seconds) {
        List<String> a = common(offset, size, "4k", 32);
        a.addAll(List.of(
                "--rw=randwrite",
                "--runtime=" + seconds,
                "--time_based",
                "--name=l0",
                "--filename=" + leg0,
                "--name=l1",
                "--filename=" + leg1));
        return a;
    }

    /** {@code peers mirror-seqwrite}: 1 MiB sequential writes, qd8, the whole size, both legs at once. */
    public static List<String> mirrorSeqwrite(Path leg0, Path leg1, long offset, long size) {
        List<String> a = common(offset, size, "1M", 8);
        a.addAll(List.of("--rw=write", "--name=l0", "--filename=" + leg0, "--name=l1", "--filename=" + leg1));
        return a;
    }

    /**
     * {@link #mirrorSeqwrite} keeping md's durable-bit rule: each leg's job calls fdatasync after
     * every {@code chunkBytes} it wrote (fio's {@code --fdatasync=N}, N = chunk ÷ 1 MiB, at least
     * 1), so it flushes once per bitmap chunk, as often as the rule makes an array flush its
     * bitmap. fio's libaio engine first lets the job's queued writes complete, then syncs.
     */
    public static List<String> mirrorSeqwriteFlushedPerChunk(
            Path leg0, Path leg1, long offset, long size, long chunkBytes) {
        List<String> a = common(offset, size, "1M", 8);
        long writesPerChunk = Math.max(1, chunkBytes / (1 << 20));
        a.addAll(List.of(
                "--rw=write",
                "--fdatasync=" + writesPerChunk,
                "--name=l0",
                "--filename=" + leg0,
                "--name=l1",
                "--filename=" + leg1));
        return a;
    }

    /** {@code peers copy}: 1 MiB sequential read of {@code src} alongside a write of {@code dst}, qd8 each. */
    public static List<String> copy(Path src, Path dst, long offset, long size) {
        List<String> a = common(offset, size, "1M", 8);
        a.addAll(List.of("--name=r", "--rw=read", "--filename=" + src, "--name=w", "--rw=write", "--filename=" + dst));
        return a;
    }

    private static List<String> common(long offset, long size, String bs, int depth) {
        return new ArrayList<>(List.of(
                "--ioengine=libaio",
                "--direct=1",
                "--bs=" + bs,
                "--iodepth=" + depth,
                "--offset=" + offset,
                "--size=" + size));
    }

    /**
     * Runs fio with {@code args} (job options, without the output options) and parses its report.
     *
     * @param workDir where the report and fio's stderr are written (and deleted afterwards)
     * @param timeoutSeconds fio is killed after this long
     * @throws BenchException when fio is missing, fails, times out or reports a job error; the
     *     message carries fio's stderr
     */
    public static FioReport run(List<String> args, Path workDir, long timeoutSeconds) throws BenchException {
        return run(args, workDir, timeoutSeconds, false);
    }

    /**
     * {@link #run(List, Path, long)}, with {@code hugePageBuffers} fio's I/O buffers on
     * transparent huge pages as our side's are ({@code HugePageBuffers}): glibc's malloc, which
     * fio's buffers come from, advises huge pages under {@value #HUGE_PAGE_MALLOC} (glibc 2.35
     * and later; older ones ignore it). Both sides' 1 MiB writes then reach the device as one
     * segment each, so the figure compares the data paths, not where each side's pages happened
     * to lie (docs/lessons.md §70).
     */
    public static FioReport run(List<String> args, Path workDir, long timeoutSeconds, boolean hugePageBuffers)
            throws BenchException {
        Path out = null;
        Path err = null;
        List<String> cmd = new ArrayList<>();
        cmd.add("fio");
        cmd.add("--output-format=json");
        try {
            out = Files.createTempFile(workDir, "fio-", ".json");
            err = Files.createTempFile(workDir, "fio-", ".err");
            cmd.add("--output=" + out);
            cmd.addAll(args);
            String printable = (hugePageBuffers ? HUGE_PAGE_MALLOC + " " : "")
                    + String.join(" ", cmd).replace("--output=" + out + " ", "");
            Process p = process(cmd, hugePageBuffers)
                    .redirectErrorStream(false)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(err.toFile())
                    .start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new BenchException("fio did not finish within " + timeoutSeconds + " s: " + printable);
            }
            String stderr = Files.readString(err, StandardCharsets.UTF_8).strip();
            if (p.exitValue() != 0) {
                throw new BenchException("fio exited with " + p.exitValue() + ": " + printable + "\n" + stderr);
            }
            FioReport r;
            try {
                r = FioReport.parse(printable, Files.readString(out, StandardCharsets.UTF_8));
            } catch (IllegalArgumentException e) {
                throw new BenchException("fio's report could not be read (" + e.getMessage() + "): " + printable, e);
            }
            for (FioReport.Job j : r.jobs()) {
                if (j.error() != 0)
                    throw new BenchException("fio job " + j.name() + " failed with errno " + j.error() + ": " + stderr);
            }
            return r;
        } catch (IOException e) {
            throw new BenchException("cannot run fio (is it installed?): " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BenchException("interrupted while fio ran", e);
        } finally {
            deleteQuietly(out);
            deleteQuietly(err);
        }
    }

    /** fio's process, with glibc's malloc on huge pages when asked. */
    static ProcessBuilder process(List<String> cmd, boolean hugePageBuffers) {
        ProcessBuilder pb = new ProcessBuilder(cmd);
        if (hugePageBuffers) {
            String[] variable = HUGE_PAGE_MALLOC.split("=", 2);
            pb.environment().put(variable[0], variable[1]);
        }
        return pb;
    }

    private static void deleteQuietly(Path p) {
        if (p == null) return;
        try {
            Files.deleteIfExists(p);
        } catch (IOException ignored) {
            // a leftover report in the bench directory is harmless
        }
    }
}
