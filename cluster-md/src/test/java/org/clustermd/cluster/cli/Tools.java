package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Test helper: runs mdadm, jq and losetup, and parses mdadm's "Key : value" output. */
final class Tools {
    private Tools() {}

    static boolean have(String tool) {
        for (String dir : new String[] {"/sbin", "/usr/sbin", "/bin", "/usr/bin"}) {
            if (Files.isExecutable(Path.of(dir, tool))) return true;
        }
        return false;
    }

    /** Runs {@code cmd} with {@code stdin}; asserts exit 0 and returns stdout and stderr together. */
    static String run(String stdin, String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        if (stdin != null) p.getOutputStream().write(stdin.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s exited with %d:%n%s", String.join(" ", cmd), p.exitValue(), out).isZero();
        return out;
    }

    /** {@code jq -r FILTER} over {@code json}, trimmed. */
    static String jq(String json, String filter) throws IOException, InterruptedException {
        return run(json, "jq", "-r", filter).trim();
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

    /** mdadm -X's per-slot sections, one map per "Node Slot". */
    static List<Map<String, String>> slotSections(String out) {
        List<Map<String, String>> res = new ArrayList<>();
        Map<String, String> cur = null;
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c <= 0) continue;
            String k = line.substring(0, c).trim();
            String v = line.substring(c + 3).trim();
            if (k.equals("Node Slot")) {
                cur = new LinkedHashMap<>();
                res.add(cur);
            }
            if (cur != null) cur.put(k, v);
        }
        return res;
    }

    /** Attaches {@code backing} to a free loop device; null (reason printed) when none can be. */
    static Path attachLoop(Path backing) {
        try {
            Process p = new ProcessBuilder("losetup", "-f", "--show", backing.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0 || !out.startsWith("/dev/loop")) {
                System.err.println("no loop device could be attached: " + out);
                return null;
            }
            return Path.of(out);
        } catch (IOException e) {
            System.err.println("no loop device could be attached: " + e);
            return null;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return null;
        }
    }

    /** Detaches {@code loop}; failures are printed, never thrown (teardown goes on). */
    static void detachLoop(Path loop) {
        if (loop == null) return;
        try {
            Process p = new ProcessBuilder("losetup", "-d", loop.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
            if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) System.err.println("losetup -d " + loop + ": " + out);
        } catch (IOException e) {
            System.err.println("losetup -d " + loop + ": " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
