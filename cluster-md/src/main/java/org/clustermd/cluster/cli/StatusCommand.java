package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.LocalTime;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd status --jmx HOST:PORT[,...]}: the {@code /proc/mdstat} of each node, side by
 * side. Per node, as md prints it: {@code md0 : active raid1 leg1[1] leg0[0] leg2[2](S)}, the
 * size in 1 KiB blocks with {@code [n/m] [UU]}, and while a pass runs a
 * {@code [===>.................]  resync = 17.5% (2880/16384) finish=0.1min speed=1024K/sec}
 * line, or {@code resync=PENDING} / {@code resync=REMOTE} / {@code recover=REMOTE} when the
 * work waits for this node or another one does it. {@code --watch} redraws every few seconds.
 * A node that cannot be read is shown as such and makes the exit code 1.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "status",
        description = {
            "Show each node's view of the array as /proc/mdstat does, several nodes side by side.",
            "",
            "Example:",
            "  clustermd status --jmx node1:9010,node2:9010 --watch",
            "  md0 : active raid1 lun-b[1] lun-a[0]",
            "        196608 blocks super 1.2 [2/2] [UU]",
            "        [===>.................]  resync = 17.5% (34406/196608) finish=2.6min speed=1024K/sec"
        })
final class StatusCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--jmx", required = true, paramLabel = "HOST:PORT[,...]", description = "The nodes' JMX ports.")
    String jmx;

    @Option(names = "--json", description = "A JSON list, one object per node.")
    boolean json;

    @Option(
            names = "--watch",
            arity = "0..1",
            fallbackValue = "2",
            paramLabel = "SECONDS",
            description = "Redraw every SECONDS (default 2) until interrupted.")
    Double watch;

    @Option(names = "--count", hidden = true, paramLabel = "N", description = "With --watch: stop after N refreshes.")
    Integer count;

    @Mixin
    JmxOptions options = new JmxOptions();

    @Override
    public Integer call() throws IOException, InterruptedException {
        List<String[]> endpoints = JmxOptions.endpoints(spec, jmx);
        options.check(spec);
        if (watch != null && (watch <= 0 || watch > 3600))
            throw new ParameterException(spec.commandLine(), "--watch must be 0 < SECONDS <= 3600");
        if (count != null && watch == null) throw new ParameterException(spec.commandLine(), "--count needs --watch");
        PrintWriter out = spec.commandLine().getOut();
        int code = 0;
        for (int round = 0; ; round++) {
            List<Map<String, Object>> nodes = new ArrayList<>();
            for (String[] e : endpoints) nodes.add(read(e));
            code = nodes.stream().anyMatch(n -> n.get("Error") != null) ? 1 : 0;
            if (watch != null)
                out.println("Every " + watch + "s: clustermd status --jmx " + jmx + "    "
                        + LocalTime.now().truncatedTo(ChronoUnit.SECONDS));
            if (json) {
                out.println(Json.write(nodes));
            } else {
                List<List<String>> blocks = new ArrayList<>();
                for (Map<String, Object> n : nodes) blocks.add(lines(n));
                out.print(sideBySide(blocks));
            }
            out.flush();
            if (watch == null || (count != null && round + 1 >= count)) break;
            Thread.sleep((long) (watch * 1000));
        }
        return code;
    }

    /** One node's status as a map (JSON keys); on failure {@code Error} says why. */
    private Map<String, Object> read(String[] endpoint) {
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("Jmx", endpoint[0] + ":" + endpoint[1]);
        try (JmxTarget t = options.connect(spec, endpoint)) {
            describe(t, n);
        } catch (IOException | RuntimeException e) {
            n.put("Error", e.getMessage() == null ? e.toString() : e.getMessage());
        }
        return n;
    }

    /**
     * Reads one node's status into {@code n} (after its {@code Jmx} key), as {@link #lines} and
     * {@code --json} show it; the demo reads its nodes through this too.
     */
    static void describe(JmxTarget t, Map<String, Object> n) throws IOException {
        Map<String, Object> a = t.arrayAttributes();
        Map<String, Object> c = t.clusterAttributes();
        List<Map<String, Object>> devices = t.devices();
        int raidDisks = (Integer) a.get("RaidDisks");
        StringBuilder roles = new StringBuilder("[");
        int inSync = 0;
        for (int r = 0; r < raidDisks; r++) {
            String role = Integer.toString(r);
            boolean up = devices.stream()
                    .anyMatch(d -> role.equals(d.get("Slot"))
                            && String.valueOf(d.get("State")).contains("in_sync"));
            if (up) inSync++;
            roles.append(up ? 'U' : '_');
        }
        roles.append(']');
        List<Map<String, Object>> legs = new ArrayList<>();
        for (Map<String, Object> d : devices) {
            String state = String.valueOf(d.get("State"));
            Map<String, Object> l = new LinkedHashMap<>();
            l.put("Name", shortName(String.valueOf(d.get("Path"))));
            l.put("Slot", d.get("Slot"));
            l.put(
                    "Flag",
                    state.contains("faulty")
                            ? "F"
                            : state.contains("spare") ? "S" : state.contains("write_mostly") ? "W" : "");
            legs.add(l);
        }
        n.put("Name", a.get("Name"));
        n.put("ArrayState", a.get("ArrayState"));
        n.put("Level", a.get("Level"));
        n.put("Blocks", a.get("ComponentSize"));
        n.put("RaidDisks", raidDisks);
        n.put("InSync", inSync);
        n.put("Roles", roles.toString());
        n.put("Devices", legs);
        n.put("SyncStatus", a.get("SyncStatus"));
        n.put("SyncCompleted", a.get("SyncCompleted"));
        n.put("SyncSpeed", a.get("SyncSpeed"));
        String[] done = String.valueOf(a.get("SyncCompleted")).split(" / ");
        if (done.length == 2) {
            long at = Long.parseLong(done[0].trim());
            long total = Long.parseLong(done[1].trim());
            long speed = (Long) a.get("SyncSpeed");
            n.put("PerMille", total == 0 ? 0 : at * 1000 / total);
            n.put("FinishSeconds", speed <= 0 ? null : (total - at) / 2 / speed);
        }
        n.put("BitmapDirtyChunks", a.get("BitmapDirtyChunks"));
        n.put("BitmapChunkSize", a.get("BitmapChunkSize"));
        n.put("Slot", c.get("Slot"));
        n.put("Nodes", c.get("Nodes"));
        n.put("ClusterName", c.get("ClusterName"));
        n.put("SessionState", c.get("SessionState"));
        n.put("Error", null);
    }

    private static String shortName(String path) {
        Path f = Path.of(path).getFileName();
        return f == null ? path : f.toString();
    }

    /** The mdstat lines of one node. */
    @SuppressWarnings("unchecked")
    static List<String> lines(Map<String, Object> n) {
        List<String> l = new ArrayList<>();
        l.add(n.get("Jmx")
                + (n.get("Slot") != null
                        ? " (slot " + n.get("Slot") + " of " + n.get("Nodes") + ", " + n.get("SessionState") + ")"
                        : ""));
        if (n.get("Error") != null) {
            l.add("unreadable: " + n.get("Error"));
            return l;
        }
        StringBuilder head = new StringBuilder();
        head.append(n.get("Name"))
                .append(" : ")
                .append(mdstatState(String.valueOf(n.get("ArrayState"))))
                .append(' ')
                .append(n.get("Level"));
        List<Map<String, Object>> devices = (List<Map<String, Object>>) n.get("Devices");
        for (int i = devices.size() - 1; i >= 0; i--) {
            Map<String, Object> d = devices.get(i);
            String slot = String.valueOf(d.get("Slot"));
            head.append(' ')
                    .append(d.get("Name"))
                    .append('[')
                    .append("none".equals(slot) ? String.valueOf(i) : slot)
                    .append(']');
            if (!"".equals(d.get("Flag")))
                head.append('(').append(d.get("Flag")).append(')');
        }
        l.add(head.toString());
        l.add("      " + n.get("Blocks") + " blocks super 1.2 [" + n.get("RaidDisks") + "/" + n.get("InSync") + "] "
                + n.get("Roles"));
        String sync = String.valueOf(n.get("SyncStatus"));
        if (n.get("PerMille") != null) {
            long pm = (Long) n.get("PerMille");
            int x = (int) (pm / 50);
            String bar = "=".repeat(x) + ">" + ".".repeat(20 - x);
            String[] done = String.valueOf(n.get("SyncCompleted")).split(" / ");
            Object finish = n.get("FinishSeconds");
            String fin = finish == null
                    ? "finish=?"
                    : String.format("finish=%d.%dmin", (Long) finish / 60, ((Long) finish % 60) / 6);
            l.add(String.format(
                    "      [%s]  %s = %3d.%d%% (%d/%d) %s speed=%dK/sec",
                    bar,
                    sync.equals("recovery") ? "recovery" : sync,
                    pm / 10,
                    pm % 10,
                    Long.parseLong(done[0].trim()) / 2,
                    Long.parseLong(done[1].trim()) / 2,
                    fin,
                    (Long) n.get("SyncSpeed")));
        } else if (sync.contains("=")) {
            l.add("      " + sync);
        }
        long chunk = (Long) n.get("BitmapChunkSize");
        if (chunk > 0)
            l.add("      bitmap: " + n.get("BitmapDirtyChunks") + " dirty chunks, " + chunk / 1024 + "KB chunk");
        return l;
    }

    /** mdstat says active or inactive, and (read-only) / (auto-read-only). */
    private static String mdstatState(String arrayState) {
        return switch (arrayState) {
            case "inactive", "clear" -> "inactive";
            case "readonly" -> "active (read-only)";
            case "read-auto" -> "active (auto-read-only)";
            default -> "active";
        };
    }

    static String sideBySide(List<List<String>> blocks) {
        if (blocks.size() == 1) return String.join("\n", blocks.get(0)) + "\n";
        int rows = blocks.stream().mapToInt(List::size).max().orElse(0);
        int[] widths = blocks.stream()
                .mapToInt(b -> b.stream().mapToInt(String::length).max().orElse(0))
                .toArray();
        StringBuilder s = new StringBuilder();
        for (int r = 0; r < rows; r++) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < blocks.size(); i++) {
                String cell = r < blocks.get(i).size() ? blocks.get(i).get(r) : "";
                if (i > 0) line.append("  |  ");
                line.append(i < blocks.size() - 1 ? String.format("%-" + widths[i] + "s", cell) : cell);
            }
            s.append(line.toString().stripTrailing()).append('\n');
        }
        return s.toString();
    }
}
