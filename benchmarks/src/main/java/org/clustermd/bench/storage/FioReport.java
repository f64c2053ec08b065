package org.clustermd.bench.storage;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.ArrayList;
import java.util.List;

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
    /** Thread-safe once configured; reading a tree needs no configuration. */
    private static final ObjectMapper JSON = new ObjectMapper();

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
    public record Job(
            String name,
            double readIops,
            double readBytesPerSecond,
            double writeIops,
            double writeBytesPerSecond,
            int error) {}

    /**
     * Reads fio's JSON report.
     *
     * @throws IllegalArgumentException when the text is not a fio report (no {@code jobs}, or a
     *     job without {@code read}/{@code write} sections); the message names the missing field
     */
    public static FioReport parse(String command, String json) {
        JsonNode root = readReport(json);
        if (!root.path("jobs").isArray()) {
            throw new IllegalArgumentException("fio report has no \"jobs\" array");
        }
        List<Job> out = new ArrayList<>();
        for (JsonNode job : root.get("jobs")) {
            if (!job.isObject()) throw new IllegalArgumentException("fio job is not an object: " + job);
            String name = job.has("jobname") ? job.get("jobname").asText() : "null";
            JsonNode read = section(job, "read", name);
            JsonNode write = section(job, "write", name);
            out.add(new Job(
                    name,
                    number(read, "iops", name),
                    number(read, "bw_bytes", name),
                    number(write, "iops", name),
                    number(write, "bw_bytes", name),
                    job.path("error").isNumber() ? job.get("error").intValue() : 0));
        }
        return new FioReport(command, out);
    }

    /**
     * The first JSON value in fio's output. Anything before the first {@code '{'} or {@code '['}
     * is skipped, because fio may print warnings ahead of its report.
     */
    private static JsonNode readReport(String text) {
        int brace = text.indexOf('{');
        int bracket = text.indexOf('[');
        int start = brace < 0 ? bracket : bracket < 0 ? brace : Math.min(brace, bracket);
        if (start < 0) throw new IllegalArgumentException("no JSON object or array in fio's output");
        try {
            return JSON.readTree(text.substring(start));
        } catch (JsonProcessingException e) {
            throw new IllegalArgumentException("fio's output is not JSON: " + e.getOriginalMessage(), e);
        }
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

    private static JsonNode section(JsonNode job, String key, String name) {
        if (job.path(key).isObject()) return job.get(key);
        throw new IllegalArgumentException("fio job " + name + " has no \"" + key + "\" section");
    }

    private static double number(JsonNode section, String key, String name) {
        if (section.path(key).isNumber()) return section.get(key).doubleValue();
        throw new IllegalArgumentException("fio job " + name + " has no numeric \"" + key + "\"");
    }
}
