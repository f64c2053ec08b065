package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd detail --jmx HOST:PORT [--json]}: a running array as one node sees it (the
 * mdadm {@code --detail} analog), read from the node's MBeans. {@code --json} prints one object
 * keyed by the Array MBean's attribute names plus {@code Devices} (one object per leg, keyed by
 * the Device MBean's) and {@code Cluster} (keyed by the Cluster MBean's): docs/design.md §5.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "detail",
        description = {
            "Show a running array as one node sees it (mdadm --detail), read over the node's JMX.",
            "",
            "Example:",
            "  clustermd detail --jmx 127.0.0.1:9010",
            "  clustermd detail --jmx node1:9010 --jmx-user monitor --jmx-password-file ~/.jmx-pw --json"
        })
final class DetailCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--jmx", required = true, paramLabel = "HOST:PORT", description = "The node's JMX port.")
    String jmx;

    @Option(names = "--json", description = "One JSON object keyed by the MBeans' attribute names.")
    boolean json;

    @Mixin
    JmxOptions options = new JmxOptions();

    @Override
    public Integer call() throws IOException {
        List<String[]> endpoints = JmxOptions.endpoints(spec, jmx);
        if (endpoints.size() != 1)
            throw new picocli.CommandLine.ParameterException(
                    spec.commandLine(), "detail reads one node: --jmx HOST:PORT");
        Map<String, Object> all;
        try (JmxTarget t = options.connect(spec, endpoints.get(0))) {
            all = new LinkedHashMap<>(t.arrayAttributes());
            all.put("Devices", t.devices());
            all.put("Cluster", t.clusterAttributes());
        }
        PrintWriter out = spec.commandLine().getOut();
        if (json) {
            out.println(Json.write(all));
        } else {
            out.print(text(all));
        }
        out.flush();
        return 0;
    }

    @SuppressWarnings("unchecked")
    static String text(Map<String, Object> a) {
        StringBuilder b = new StringBuilder();
        b.append(a.get("Name")).append(":\n");
        Map<String, Object> c = (Map<String, Object>) a.get("Cluster");
        List<Map<String, Object>> devices = (List<Map<String, Object>>) a.get("Devices");
        long working = devices.stream()
                .filter(d -> !String.valueOf(d.get("State")).contains("faulty"))
                .count();
        long active = devices.stream()
                .filter(d -> String.valueOf(d.get("State")).contains("in_sync"))
                .count();
        line(b, "Version", "1.2");
        line(b, "Raid Level", a.get("Level"));
        line(b, "Array Size", a.get("ComponentSize") + " KiB");
        line(b, "Raid Devices", a.get("RaidDisks"));
        line(b, "Total Devices", devices.size());
        line(b, "State", state(a));
        line(b, "Active Devices", active);
        line(b, "Working Devices", working);
        line(b, "Failed Devices", devices.size() - working);
        line(b, "Spare Devices", a.get("Spares"));
        line(b, "Consistency Policy", "bitmap");
        if (!"none".equals(a.get("SyncCompleted")))
            line(b, "Sync Status", a.get("SyncStatus") + " " + a.get("SyncCompleted"));
        else if (!"idle".equals(a.get("SyncStatus"))) line(b, "Sync Status", a.get("SyncStatus"));
        line(b, "Name", a.get("Name"));
        line(b, "Cluster Name", c.get("ClusterName"));
        line(b, "UUID", a.get("Uuid"));
        line(b, "Events", a.get("Events"));
        line(b, "Node Slot", c.get("Slot") + " of " + c.get("Nodes") + ", members " + c.get("Members"));
        line(b, "Session", c.get("SessionState"));
        b.append('\n').append(String.format("%10s   %-20s %s%n", "RaidDevice", "State", "Path"));
        for (Map<String, Object> d : devices) {
            b.append(String.format("%10s   %-20s %s%n", d.get("Slot"), d.get("State"), d.get("Path")));
        }
        return b.toString();
    }

    private static String state(Map<String, Object> a) {
        StringBuilder s = new StringBuilder(String.valueOf(a.get("ArrayState")));
        if (!Integer.valueOf(0).equals(a.get("Degraded"))) s.append(", degraded");
        String sync = String.valueOf(a.get("SyncStatus"));
        if (sync.equals("recovery")) s.append(", recovering");
        else if (sync.equals("resync")) s.append(", resyncing");
        else if (sync.equals("check") || sync.equals("repair")) s.append(", checking");
        else if (!sync.equals("idle")) s.append(", ").append(sync);
        return s.toString();
    }

    private static void line(StringBuilder b, String key, Object value) {
        b.append(String.format("%18s : %s%n", key, value));
    }
}
