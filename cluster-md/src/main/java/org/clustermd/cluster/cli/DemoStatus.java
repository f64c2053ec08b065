package org.clustermd.cluster.cli;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The demo's {@code clustermd status} view of one node: read through the node's JMX as the
 * {@code status} verb reads it ({@link StatusCommand#describe}), and shown as the same mdstat
 * lines squeezed onto one: the legs' {@code [2/2] [UU]}, and while a pass runs its
 * {@code [===>....]  resync = 17.5% ...} bar, or {@code resync=PENDING} / {@code resync=REMOTE}
 * when another node does the work. A line is said only when it differs from the last one, so a
 * watch of a few seconds stays short. The bitmap's dirty count is left out: under writes it
 * changes on every look.
 *
 * <p>Not thread-safe: the demo's thread polls it.
 */
final class DemoStatus implements AutoCloseable {
    private final String node;
    private final String host;
    private final int port;
    private final Consumer<String> say;
    private JmxTarget jmx;
    private String last;
    /** {@link #last} without its progress bar and figures, and when a line was last said. */
    private String lastShape;

    private long lastSaidNanos;
    /** A resync's progress changes at every poll: say it at most this often, every other change at once. */
    private static final long PROGRESS_EVERY_NANOS = 2_000_000_000L;

    DemoStatus(String node, String host, int port, Consumer<String> say) {
        this.node = node;
        this.host = host;
        this.port = port;
        this.say = say;
    }

    /** Reads the node's status and says it when it changed; an unreadable node is said once as such. */
    void poll() {
        String line;
        try {
            if (jmx == null) jmx = JmxTarget.connect(host, port, null, null, Demo.ARRAY);
            Map<String, Object> n = new LinkedHashMap<>();
            n.put("Jmx", host + ":" + port);
            StatusCommand.describe(jmx, n);
            line = squeeze(StatusCommand.lines(n));
        } catch (IOException | RuntimeException e) {
            line = "unreadable: " + e.getMessage();
            close();
        }
        String shape = line.replaceAll("\\[[=>.]+\\].*", "");
        long now = System.nanoTime();
        if (!line.equals(last) && (!shape.equals(lastShape) || now - lastSaidNanos >= PROGRESS_EVERY_NANOS)) {
            say.accept("[status " + node + "] " + line);
            lastSaidNanos = now;
            lastShape = shape;
            last = line;
        }
    }

    /** The mdstat lines but the first (the JMX address) and the bitmap's, on one line. */
    static String squeeze(List<String> lines) {
        List<String> parts = new ArrayList<>();
        for (int i = 1; i < lines.size(); i++) {
            String l = lines.get(i).trim();
            if (!l.startsWith("bitmap:")) parts.add(l);
        }
        return String.join("  ", parts);
    }

    @Override
    public void close() {
        if (jmx != null) {
            try {
                jmx.close();
            } catch (RuntimeException e) {
                // the node is gone; the next poll connects again
            }
            jmx = null;
        }
    }
}
