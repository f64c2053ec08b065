package org.clustermd.raid1.admin;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Test helper: runs mdadm/jq and parses mdadm's "Key : value" output. */
final class Cmd {
    private Cmd() {}

    static boolean have(String tool) {
        for (String dir : new String[] {"/sbin", "/usr/sbin", "/bin", "/usr/bin"}) {
            if (Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    static String run(String stdin, String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s exited with %d:%n%s", String.join(" ", cmd), p.exitValue(), out).isZero();
        return out;
    }

    /** "Key : value" lines, first occurrence of each key. */
    static Map<String, String> fields(String out) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c > 0) m.putIfAbsent(line.substring(0, c).trim(), line.substring(c + 3).trim());
        }
        return m;
    }

    /** mdadm -X sections, one map per "Node Slot" (or one for an unclustered bitmap). */
    static List<Map<String, String>> slotSections(String out) {
        List<Map<String, String>> res = new ArrayList<>();
        Map<String, String> cur = null;
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c <= 0) continue;
            String k = line.substring(0, c).trim();
            String v = line.substring(c + 3).trim();
            if (k.equals("Node Slot") || (cur == null && k.equals("Filename"))) {
                cur = new LinkedHashMap<>();
                res.add(cur);
            }
            if (cur != null) cur.put(k, v);
        }
        return res;
    }
}
