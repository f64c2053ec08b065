package org.clustermd.bench;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializerProvider;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.ser.std.StdSerializer;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
    private static final Set<String> RESERVED =
            Set.of("figure", "name", "ours", "peer", "ratio", "goal", "unit", "met");
    /** Thread-safe once configured. */
    private static final ObjectMapper JSON = new ObjectMapper()
            .registerModule(new SimpleModule("figures").addSerializer(Double.class, new FourDigits()));

    public Figure(String figure, String name, double ours, double peer, String goal, String unit) {
        this(figure, name, ours, peer, ours / peer, goal, unit);
    }

    public Figure(String figure, String name, double ours, double peer, double ratio, String goal, String unit) {
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

    public String figure() {
        return figure;
    }

    public double ours() {
        return ours;
    }

    public double peer() {
        return peer;
    }

    public double ratio() {
        return ratio;
    }

    public String goal() {
        return goal;
    }

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
        Map<String, Object> line = new LinkedHashMap<>();
        line.put("figure", figure);
        line.put("name", name);
        line.put("ours", ours);
        line.put("peer", peer);
        line.put("ratio", ratio);
        line.put("goal", goal);
        line.put("unit", unit);
        line.put("met", met());
        detail.forEach((k, v) -> line.put(k, plain(v)));
        try {
            return JSON.writeValueAsString(line);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("figure " + figure + " cannot be written as JSON", e);
        }
    }

    /** A detail as JSON's kinds: numbers, booleans, lists and maps as they are, anything else as its string. */
    private static Object plain(Object value) {
        if (value == null || value instanceof Number || value instanceof Boolean || value instanceof String) {
            return value;
        } else if (value instanceof Iterable<?> list) {
            List<Object> out = new ArrayList<>();
            for (Object o : list) out.add(plain(o));
            return out;
        } else if (value instanceof Map<?, ?> map) {
            Map<String, Object> out = new LinkedHashMap<>();
            map.forEach((k, v) -> out.put(String.valueOf(k), plain(v)));
            return out;
        }
        return value.toString();
    }

    /**
     * Doubles as four significant digits ({@code %.4g}: the figures' precision, and what the
     * scripts reading the lines have always seen); NaN and infinities, which JSON lacks, as null.
     */
    private static final class FourDigits extends StdSerializer<Double> {
        FourDigits() {
            super(Double.class);
        }

        @Override
        public void serialize(Double d, JsonGenerator g, SerializerProvider provider) throws IOException {
            if (d.isNaN() || d.isInfinite()) {
                g.writeNull();
            } else {
                g.writeNumber(String.format(Locale.ROOT, "%.4g", d));
            }
        }
    }
}
