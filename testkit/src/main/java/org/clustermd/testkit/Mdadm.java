package org.clustermd.testkit;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * mdadm, the reference reader of md's on-disk format, as the tests' oracle: runs
 * {@code mdadm --examine} and {@code mdadm --examine-bitmap}, and owns the one parser of their
 * "Key : value" output. mdadm missing fails the test naming its apt package
 * ({@link Tools#require}).
 */
public final class Mdadm {
    private static final Pattern BITMAP_COUNTS = Pattern.compile("(\\d+) bits \\(chunks\\), (\\d+) dirty");

    private Mdadm() {}

    /** The mdadm binary, or a failure naming {@code apt-get install mdadm}. */
    public static Path binary() {
        return Tools.require("mdadm", "mdadm");
    }

    /** {@code mdadm --examine DEVICE}'s output; fails the test unless mdadm exits 0. */
    public static String examine(Path device) throws IOException, InterruptedException {
        return Tools.run(null, binary().toString(), "--examine", device.toString());
    }

    /**
     * {@code mdadm --examine-bitmap DEVICE}'s output; fails the test unless mdadm exits 0. On a
     * regular file mdadm reads an external bitmap; to read a leg's internal bitmap, give it a
     * {@link LoopDevice} over the leg.
     */
    public static String examineBitmap(Path device) throws IOException, InterruptedException {
        return Tools.run(null, binary().toString(), "--examine-bitmap", device.toString());
    }

    /** The "Key : value" lines of mdadm's output (or ours, which prints the same way), the first occurrence of each key. */
    public static Map<String, String> fields(String out) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c > 0)
                m.putIfAbsent(line.substring(0, c).trim(), line.substring(c + 3).trim());
        }
        return m;
    }

    /** The fields of {@code --examine-bitmap}'s header: those before the first "Node Slot" line. */
    public static Map<String, String> header(String out) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c <= 0) continue;
            String key = line.substring(0, c).trim();
            if (key.equals("Node Slot")) break;
            m.putIfAbsent(key, line.substring(c + 3).trim());
        }
        return m;
    }

    /**
     * The per-slot sections of a clustered bitmap's {@code --examine-bitmap} output, one map per
     * "Node Slot" line (holding that line and the fields after it); empty for an unclustered
     * bitmap, whose fields {@link #header} returns.
     */
    public static List<Map<String, String>> slotSections(String out) {
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

    /** A bitmap's "Bitmap" field, "N bits (chunks), M dirty (x%)", as numbers. */
    public record BitmapCounts(long bits, long dirty) {}

    /** Parses a "Bitmap" field's value; fails the test when it is not mdadm's form. */
    public static BitmapCounts bitmapCounts(String value) {
        Matcher m = BITMAP_COUNTS.matcher(value == null ? "" : value);
        if (!m.find()) {
            throw new AssertionError("not mdadm's \"N bits (chunks), M dirty\": " + value);
        }
        return new BitmapCounts(Long.parseLong(m.group(1)), Long.parseLong(m.group(2)));
    }
}
