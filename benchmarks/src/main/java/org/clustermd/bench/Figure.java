package org.clustermd.bench;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * One reported figure: our value, the peer's value measured in the same run, their ratio and
 * the goal, plus the raw numbers behind them. Printed as one JSON object per line (docs/design.md §7).
 *
 * <p>{@code ratio} is always {@code ours / peer}; whether higher or lower is better is said by
 * {@code goal} (for example {@code ">=0.90"} or {@code "<=1.2"}). Figures without a peer (BM1,
 * P4, P10) use {@code peer = NaN} and carry their own ratio.
 *
 * <p>Immutable apart from {@link #detail}, which is filled before printing; not thread-safe.
 */
public final class Figure {
    private final String figure;
    private final String name;
    private final double ours;
    private final double peer;
    private final double ratio;
    private final String goal;
    private final String unit;
    private final Map<String, Object> detail = new LinkedHashMap<>();
    private static final Set<String> RESERVED = Set.of("figure", "name", "ours", "peer", "ratio", "goal", "unit", "met");

    public Figure(String figure, String name, double ours, double peer, String goal, String unit) {
        this(figure, name, ours, peer, ours / peer, goal, unit);
    }

    public Figure(String figure, String name, double ours, double peer, double ratio, String goal,
            String unit) {
        this.figure = Objects.requireNonNull(figure);
        this.name = Objects.requireNonNull(name);
        this.ours = ours;
        this.peer = peer;
        this.ratio = ratio;
        this.goal = Objects.requireNonNull(goal);
        this.unit = Objects.requireNonNull(unit);
    }

    /**
     * Adds a raw number or note (rounds, per-round values, peer command, configuration). A key
     * that names one of the line's own fields ({@code figure}, {@code peer}, ...) is stored as
     * {@code <key>_detail}, so a JSON line never carries a key twice.
     */
    public Figure with(String key, Object value) {
        detail.put(RESERVED.contains(key) ? key + "_detail" : key, value);
        return this;
    }

    public String figure() { return figure; }
    public double ours() { return ours; }
    public double peer() { return peer; }
    public double ratio() { return ratio; }
    public String goal() { return goal; }

    /** True when {@link #ratio} satisfies {@link #goal} ({@code >=x}, {@code <=x} or {@code =x}). */
    public boolean met() {
        String g = goal.replace(" ", "");
        if (g.startsWith(">=")) return ratio >= Double.parseDouble(g.substring(2));
        if (g.startsWith("<=")) return ratio <= Double.parseDouble(g.substring(2));
        if (g.startsWith("=")) {
            double target = Double.parseDouble(g.substring(1));
            // "=0" means none at all (P4): a tolerance would hide one stray write in a million
            return target == 0 ? ratio == 0 : Math.abs(ratio - target) < 0.005;
        }
        throw new IllegalStateException("unparseable goal " + goal);
    }

    /** The JSON line: figure, name, ours, peer, ratio, goal, unit, met, then the details. */
    public String toJson() {
        StringBuilder b = new StringBuilder("{");
        field(b, "figure", figure);
        field(b, "name", name);
        field(b, "ours", ours);
        field(b, "peer", peer);
        field(b, "ratio", ratio);
        field(b, "goal", goal);
        field(b, "unit", unit);
        field(b, "met", met());
        detail.forEach((k, v) -> field(b, k, v));
        b.setLength(b.length() - 1);
        return b.append('}').toString();
    }

    private static void field(StringBuilder b, String key, Object value) {
        b.append('"').append(key).append("\":");
        append(b, value);
        b.append(',');
    }

    private static void append(StringBuilder b, Object value) {
        if (value == null) {
            b.append("null");
        } else if (value instanceof Double d) {
            b.append(d.isNaN() || d.isInfinite() ? "null" : String.format(Locale.ROOT, "%.4g", d));
        } else if (value instanceof Number || value instanceof Boolean) {
            b.append(value);
        } else if (value instanceof Iterable<?> list) {
            b.append('[');
            boolean first = true;
            for (Object o : list) {
                if (!first) b.append(',');
                append(b, o);
                first = false;
            }
            b.append(']');
        } else if (value instanceof Map<?, ?> map) {
            b.append('{');
            boolean first = true;
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (!first) b.append(',');
                b.append('"').append(escape(String.valueOf(e.getKey()))).append("\":");
                append(b, e.getValue());
                first = false;
            }
            b.append('}');
        } else {
            b.append('"').append(escape(value.toString())).append('"');
        }
    }

    private static String escape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\t' -> b.append("\\t");
                default -> {
                    if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
                    else b.append(c);
                }
            }
        }
        return b.toString();
    }
}
