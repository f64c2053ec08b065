package org.clustermd.bench.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * The parts of fio's JSON report the storage figures use: per job, the read and write IOPS and
 * bandwidth, plus the command line that produced it.
 *
 * <p>Immutable; thread-safe.
 *
 * @param command the fio command line, for the figure's details
 * @param jobs the jobs in the order fio reports them (the order of {@code --name} options)
 */
public record FioReport(String command, List<Job> jobs) {

    public FioReport {
        jobs = List.copyOf(jobs);
    }

    /**
     * One fio job's totals.
     *
     * @param name {@code jobname}
     * @param readIops {@code read.iops}
     * @param readBytesPerSecond {@code read.bw_bytes}
     * @param writeIops {@code write.iops}
     * @param writeBytesPerSecond {@code write.bw_bytes}
     * @param error fio's {@code error} (an errno; 0 when the job ran cleanly)
     */
    public record Job(String name, double readIops, double readBytesPerSecond, double writeIops,
            double writeBytesPerSecond, int error) {}

    /**
     * Reads fio's JSON report.
     *
     * @throws IllegalArgumentException when the text is not a fio report (no {@code jobs}, or a
     *     job without {@code read}/{@code write} sections); the message names the missing field
     */
    public static FioReport parse(String command, String json) {
        Object root = JsonReader.parse(json);
        if (!(root instanceof Map<?, ?> m) || !(m.get("jobs") instanceof List<?> jobs)) {
            throw new IllegalArgumentException("fio report has no \"jobs\" array");
        }
        List<Job> out = new ArrayList<>();
        for (Object o : jobs) {
            if (!(o instanceof Map<?, ?> job)) throw new IllegalArgumentException("fio job is not an object: " + o);
            String name = String.valueOf(job.get("jobname"));
            Map<?, ?> read = section(job, "read", name);
            Map<?, ?> write = section(job, "write", name);
            out.add(new Job(name, number(read, "iops", name), number(read, "bw_bytes", name), number(write, "iops", name),
                    number(write, "bw_bytes", name), job.get("error") instanceof Double d ? d.intValue() : 0));
        }
        return new FioReport(command, out);
    }

    /** The lowest write IOPS of all jobs: a mirrored write is done when both legs are. */
    public double minWriteIops() {
        return jobs.stream().mapToDouble(Job::writeIops).min().orElse(Double.NaN);
    }

    /** The lowest write bandwidth of all jobs, MiB/s. */
    public double minWriteMibPerSecond() {
        return jobs.stream().mapToDouble(Job::writeBytesPerSecond).min().orElse(Double.NaN) / (1 << 20);
    }

    /** The peer "copy": min(read of job 0, write of job 1), MiB/s. */
    public double copyMibPerSecond() {
        if (jobs.size() < 2) throw new IllegalStateException("a copy report has a read job and a write job: " + jobs);
        return Math.min(jobs.get(0).readBytesPerSecond(), jobs.get(1).writeBytesPerSecond()) / (1 << 20);
    }

    private static Map<?, ?> section(Map<?, ?> job, String key, String name) {
        if (job.get(key) instanceof Map<?, ?> s) return s;
        throw new IllegalArgumentException("fio job " + name + " has no \"" + key + "\" section");
    }

    private static double number(Map<?, ?> section, String key, String name) {
        if (section.get(key) instanceof Double d) return d;
        throw new IllegalArgumentException("fio job " + name + " has no numeric \"" + key + "\"");
    }
}
