package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SizesTest {
    @Test
    void aBareNumberIsKibAndSuffixesArePowersOf1024() {
        assertThat(Sizes.parse("64")).isEqualTo(64L << 10);
        assertThat(Sizes.parse("4K")).isEqualTo(4096);
        assertThat(Sizes.parse("192m")).isEqualTo(192L << 20);
        assertThat(Sizes.parse(" 2G ")).isEqualTo(2L << 30);
        assertThat(Sizes.parse("1T")).isEqualTo(1L << 40);
    }

    @Test
    void malformedOrHugeSizesAreRefusedQuotingThem() {
        for (String bad : new String[] {"", "M", "12Q", "-4K", "1.5M", "4 K"}) {
            assertThatThrownBy(() -> Sizes.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> Sizes.parse("12Q")).hasMessageContaining("'12Q'");
        assertThatThrownBy(() -> Sizes.parse("99999999999T")).hasMessageContaining("too large");
    }

    @Test
    void humanSizesUseTheLargestExactUnit() {
        assertThat(Sizes.human(64L << 20)).isEqualTo("64 MiB");
        assertThat(Sizes.human(4096)).isEqualTo("4 KiB");
        assertThat(Sizes.human(1536)).isEqualTo("1536 B");
    }
}
