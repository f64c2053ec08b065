package org.clustermd.bench.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonReaderTest {
    @Test
    void readsObjectsArraysNumbersStringsAndLiterals() {
        Object v = JsonReader.parse("{\"a\" : 1, \"b\": [1.5e3, -2, 0.000000], \"c\": \"x\\\"y\\u0041\\n\","
                + " \"d\": {\"t\": true, \"f\": false, \"n\": null}, \"e\": [], \"g\": {}}");
        assertThat(v).isInstanceOf(Map.class);
        Map<?, ?> m = (Map<?, ?>) v;
        assertThat(m.get("a")).isEqualTo(1.0);
        assertThat(m.get("b")).isEqualTo(List.of(1500.0, -2.0, 0.0));
        assertThat(m.get("c")).isEqualTo("x\"yA\n");
        Map<?, ?> d = (Map<?, ?>) m.get("d");
        assertThat(d.get("t")).isEqualTo(true);
        assertThat(d.get("f")).isEqualTo(false);
        assertThat(d.containsKey("n")).isTrue();
        assertThat(d.get("n")).isNull();
        assertThat(m.get("e")).isEqualTo(List.of());
        assertThat(m.get("g")).isEqualTo(Map.of());
    }

    @Test
    void skipsWarningsPrintedBeforeTheReport() {
        Object v = JsonReader.parse("fio: file hash not empty on exit\n{\"jobs\": []}");
        assertThat(v).isEqualTo(Map.of("jobs", List.of()));
    }

    @Test
    void malformedInputNamesTheOffset() {
        assertThatThrownBy(() -> JsonReader.parse("{\"a\": 1,, }")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("offset 8");
        assertThatThrownBy(() -> JsonReader.parse("{\"a\": tru}")).hasMessageContaining("expected true");
        assertThatThrownBy(() -> JsonReader.parse("{\"a\": [1, 2")).hasMessageContaining("end of input");
        assertThatThrownBy(() -> JsonReader.parse("no json here")).hasMessageContaining("no JSON");
    }
}
