package org.clustermd.bench.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The whole machine's CPU time from {@code /proc/stat}: busy (everything but idle and iowait) and
 * total, in clock ticks, summed over all CPUs. A benchmark that drives a load through several
 * processes (fio, a server, the kernel's block and network stacks) reads it around each run to
 * tell CPU-bound from disk-bound: what every process together spent per request, which no one
 * process's own accounting shows.
 */
public record MachineCpu(long busyTicks, long totalTicks) {
    private static final Path STAT = Path.of("/proc/stat");

    /** Now; zeros where {@code /proc/stat} cannot be read (not Linux), so callers report nothing. */
    public static MachineCpu now() {
        try {
            for (String line : Files.readAllLines(STAT)) {
                if (!line.startsWith("cpu ")) continue;
                String[] f = line.trim().split("\\s+");
                long total = 0;
                // user nice system idle iowait irq softirq steal; guest time is already in user
                for (int i = 1; i <= Math.min(8, f.length - 1); i++) total += Long.parseLong(f[i]);
                long idle = Long.parseLong(f[4]) + Long.parseLong(f[5]);
                return new MachineCpu(total - idle, total);
            }
        } catch (IOException | RuntimeException e) {
            // no figure rather than a wrong one
        }
        return new MachineCpu(0, 0);
    }

    /** The CPU time from {@code earlier} to this reading. */
    public MachineCpu since(MachineCpu earlier) {
        return new MachineCpu(busyTicks - earlier.busyTicks, totalTicks - earlier.totalTicks);
    }

    public MachineCpu plus(MachineCpu other) {
        return new MachineCpu(busyTicks + other.busyTicks, totalTicks + other.totalTicks);
    }

    /** Busy ÷ total over the interval: 1.0 means every CPU was busy all along. */
    public double busyFraction() {
        return totalTicks == 0 ? Double.NaN : busyTicks / (double) totalTicks;
    }

    /** Busy CPU time in microseconds ({@code USER_HZ} is 100 on every Linux ABI in use). */
    public double busyMicros() {
        return busyTicks * 10_000.0;
    }
}
