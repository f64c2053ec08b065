package org.clustermd.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

class FigureTest {
    @Test
    void equalsZeroMeansNoneAtAll() {
        assertThat(new Figure("P4", "n", 0, Double.NaN, 0, "=0", "u").met()).isTrue();
        assertThat(new Figure("P4", "n", 1e-6, Double.NaN, 1e-6, "=0", "u").met())
                .isFalse();
    }

    @Test
    void equalsOneKeepsItsRoundingTolerance() {
        assertThat(new Figure("P10", "n", 1.004, Double.NaN, 1.004, "=1.00", "u").met())
                .isTrue();
        assertThat(new Figure("P10", "n", 1.01, Double.NaN, 1.01, "=1.00", "u").met())
                .isFalse();
    }

    @Test
    void boundsCompareTheRatio() {
        assertThat(new Figure("P1", "n", 90, 100, ">=0.90", "IOPS").met()).isTrue();
        assertThat(new Figure("P1", "n", 89, 100, ">=0.90", "IOPS").met()).isFalse();
        assertThat(new Figure("P12", "n", 3, 1, "<=2.0", "us").met()).isFalse();
    }

    @Test
    void aDetailNamedLikeAFieldDoesNotDuplicateTheKey() {
        String json = new Figure("P6", "n", 1, 2, "<=1.2", "ms")
                .with("peer", "raw create+delete")
                .toJson();
        assertThat(json).contains("\"peer\":2.000").contains("\"peer_detail\":\"raw create+delete\"");
        assertThat(json.indexOf("\"peer\":")).isEqualTo(json.lastIndexOf("\"peer\":"));
    }

    @Test
    void theLineKeepsItsOrderAndNumberFormat() {
        String json = new Figure("P4", "n", 0, Double.NaN, 0, "=0", "u")
                .with("per_round", List.of(1.23456, 2.0, 7L))
                .with("note", "a \"quoted\" word")
                .toJson();
        assertThat(json)
                .isEqualTo(
                        "{\"figure\":\"P4\",\"name\":\"n\",\"ours\":0.000,\"peer\":null,\"ratio\":0.000,"
                                + "\"goal\":\"=0\",\"unit\":\"u\",\"met\":true,\"per_round\":[1.235,2.000,7],\"note\":\"a \\\"quoted\\\" word\"}");
    }
}
