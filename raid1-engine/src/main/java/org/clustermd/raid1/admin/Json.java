package org.clustermd.raid1.admin;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON writer (objects keep insertion order): enough for examine's output without a
 * JSON library on the engine's classpath.
 *
 * <p>Not thread-safe; build one per document.
 */
final class Json {
    private final Map<String, Object> fields = new LinkedHashMap<>();

    Json put(String key, Object value) {
        fields.put(key, value);
        return this;
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder();
        write(sb, this, 0);
        return sb.toString();
    }

    private static void write(StringBuilder sb, Object v, int indent) {
        if (v == null) {
            sb.append("null");
        } else if (v instanceof Json j) {
            sb.append("{");
            boolean first = true;
            for (Map.Entry<String, Object> e : j.fields.entrySet()) {
                sb.append(first ? "\n" : ",\n");
                first = false;
                pad(sb, indent + 2);
                string(sb, e.getKey());
                sb.append(": ");
                write(sb, e.getValue(), indent + 2);
            }
            if (!first) {
                sb.append("\n");
                pad(sb, indent);
            }
            sb.append("}");
        } else if (v instanceof List<?> list) {
            List<Object> items = new ArrayList<>(list);
            boolean simple = items.stream().noneMatch(x -> x instanceof Json || x instanceof List<?>);
            sb.append("[");
            for (int i = 0; i < items.size(); i++) {
                if (i > 0) sb.append(simple ? ", " : ",");
                if (!simple) {
                    sb.append("\n");
                    pad(sb, indent + 2);
                }
                write(sb, items.get(i), indent + 2);
            }
            if (!simple && !items.isEmpty()) {
                sb.append("\n");
                pad(sb, indent);
            }
            sb.append("]");
        } else if (v instanceof Number || v instanceof Boolean) {
            sb.append(v);
        } else {
            string(sb, v.toString());
        }
    }

    private static void pad(StringBuilder sb, int n) {
        sb.append(" ".repeat(n));
    }

    private static void string(StringBuilder sb, String s) {
        sb.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) sb.append(String.format("\\u%04x", (int) c));
                    else sb.append(c);
                }
            }
        }
        sb.append('"');
    }
}
