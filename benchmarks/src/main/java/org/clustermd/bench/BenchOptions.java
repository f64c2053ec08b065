package org.clustermd.bench;

import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * Options after the suite name: {@code --key value} pairs, e.g. {@code --rounds 5
 * --seconds 10 --dir /var/tmp/bench}. Immutable.
 */
public final class BenchOptions {
    private final Map<String, String> values;

    private BenchOptions(Map<String, String> values) {
        this.values = Map.copyOf(values);
    }

    /** Parses {@code --key value} pairs; a bare {@code --flag} gets the value {@code "true"}. */
    public static BenchOptions parse(String[] args, int from) {
        Map<String, String> m = new HashMap<>();
        for (int i = from; i < args.length; i++) {
            String a = args[i];
            if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument " + a);
            String key = a.substring(2);
            if (i + 1 < args.length && !args[i + 1].startsWith("--")) m.put(key, args[++i]);
            else m.put(key, "true");
        }
        return new BenchOptions(m);
    }

    public int intValue(String key, int dflt) {
        return values.containsKey(key) ? Integer.parseInt(values.get(key)) : dflt;
    }

    public String string(String key, String dflt) {
        return values.getOrDefault(key, dflt);
    }

    public boolean flag(String key) {
        return Boolean.parseBoolean(values.getOrDefault(key, "false"));
    }

    /**
     * The directory for leg files and ZooKeeper data: {@code --dir}, else
     * {@code $CLUSTERMD_BENCH_DIR}, else {@code /var/tmp} (a real disk, not tmpfs, so O_DIRECT and
     * fsync mean what they mean in production).
     */
    public Path dir() {
        String env = System.getenv("CLUSTERMD_BENCH_DIR");
        return Path.of(values.getOrDefault("dir", env != null ? env : "/var/tmp"));
    }
}
