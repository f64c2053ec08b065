package org.clustermd.bench.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.clustermd.bench.BenchException;
import org.junit.jupiter.api.Test;

class LegFilesTest {
    @Test
    void sizesInFioAndMdadmNotation() throws BenchException {
        assertThat(LegFiles.parseSize("1G")).isEqualTo(1L << 30);
        assertThat(LegFiles.parseSize("64M")).isEqualTo(64L << 20);
        assertThat(LegFiles.parseSize("64MiB")).isEqualTo(64L << 20);
        assertThat(LegFiles.parseSize("4k")).isEqualTo(4096);
        assertThat(LegFiles.parseSize("4096")).isEqualTo(4096);
        assertThat(LegFiles.parseSize("2T")).isEqualTo(2L << 40);
    }

    @Test
    void aBadSizeIsRefusedWithTheValue() {
        assertThatThrownBy(() -> LegFiles.parseSize("lots"))
                .isInstanceOf(BenchException.class)
                .hasMessageContaining("lots");
        assertThatThrownBy(() -> LegFiles.parseSize("0")).isInstanceOf(BenchException.class);
        assertThatThrownBy(() -> LegFiles.parseSize("-1G")).isInstanceOf(BenchException.class);
        assertThatThrownBy(() -> LegFiles.parseSize("G")).isInstanceOf(BenchException.class);
    }
}
