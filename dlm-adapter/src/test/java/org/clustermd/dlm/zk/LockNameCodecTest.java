package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Random;
import java.util.stream.LongStream;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.LockEntry.LockKey;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class LockNameCodecTest {
    static LongStream seeds() {
        return LongStream.range(0, 200);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void lockNamesRoundTrip(long seed) {
        Random rnd = new Random(seed);
        LockMode[] m = LockMode.values();
        LockKey key = new LockKey(rnd.nextInt(10_000), rnd.nextLong(), Math.abs(rnd.nextInt()));
        LockMode g = rnd.nextBoolean() ? null : m[rnd.nextInt(6)];
        LockMode r = g == null || rnd.nextBoolean() ? m[rnd.nextInt(6)] : null;
        long gen = Math.abs(rnd.nextInt());
        int casVersion = rnd.nextBoolean() ? -1 : rnd.nextInt(Integer.MAX_VALUE);
        long seq = Math.abs(rnd.nextInt());
        String name = LockEntry.prefix(key, g, r, gen, casVersion) + String.format("%010d", seq);
        LockEntry e = LockEntry.parse(name);
        assertThat(e)
                .as("seed " + seed + " name " + name)
                .isEqualTo(new LockEntry(key, g, r, gen, casVersion, seq, name));
    }

    @Test
    void lockNamesKeepTheirFieldWidths() {
        // the name is what every member of every version reads: zero-padded slot and
        // incarnation, decimal lock id and generation, whatever builds the string
        assertThat(LockEntry.prefix(new LockKey(3, 0x1fL, 7), LockMode.EX, null, 2, 5))
                .isEqualTo("L_0003_000000000000001f_7_EX_--_2_c5_");
        assertThat(LockEntry.prefix(new LockKey(9_999, -2L, 123_456_789_012L), null, LockMode.PR, 0, -1))
                .isEqualTo("L_9999_fffffffffffffffe_123456789012_UN_PR_0_p_");
        assertThat(LockEntry.prefix(new LockKey(0, 0L, 0), LockMode.NL, LockMode.EX, 41, 0))
                .isEqualTo("L_0000_0000000000000000_0_NL_EX_41_c0_");
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void valueBlockNamesRoundTrip(long seed) {
        Random rnd = new Random(seed);
        byte[] b = new byte[64];
        int used = rnd.nextInt(65);
        for (int i = 0; i < used; i++) b[i] = (byte) rnd.nextInt();
        LockValueBlock lvb =
                rnd.nextBoolean() ? LockValueBlock.of(b) : LockValueBlock.of(b).invalidated();
        String name = ValueBlockEntry.prefix(lvb) + "0000000042";
        ValueBlockEntry v = ValueBlockEntry.parse(name, 64);
        assertThat(v.valueBlock()).as("seed " + seed + " " + name).isEqualTo(lvb);
        assertThat(v.seq()).isEqualTo(42);
    }

    @Test
    void corruptLockNamesNameTheField() {
        String good = "L_0003_00000000000000ab_7_PR_EX_2_c17_0000000012";
        assertThat(LockEntry.parse(good).granted()).isEqualTo(LockMode.PR);
        assertThatThrownBy(() -> LockEntry.parse("X_foo")).hasMessageContaining("not a lock znode");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("0003", "03x3"))).hasMessageContaining("slot");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("00000000000000ab", "zz")))
                .hasMessageContaining("incarnation");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("_7_", "_-7_"))).hasMessageContaining("lock id");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("_PR_", "_XX_"))).hasMessageContaining("granted mode");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("_EX_", "_QQ_"))).hasMessageContaining("requested mode");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("_2_c", "_x_c"))).hasMessageContaining("generation");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("_c17_", "_z_")))
                .hasMessageContaining("transaction kind");
        assertThatThrownBy(() -> LockEntry.parse(good.replace("_c17_", "_c_")))
                .hasMessageContaining("transaction kind");
        assertThat(LockEntry.parse(good).casVersion()).isEqualTo(17);
        assertThatThrownBy(() -> LockEntry.parse(good.replace("0000000012", "12")))
                .hasMessageContaining("sequence");
        assertThatThrownBy(() -> LockEntry.parse("L_0003_00000000000000ab_7_UN_--_2_p_0000000012"))
                .hasMessageContaining("neither granted nor requested");
    }

    @Test
    void corruptValueBlockNamesAreRefused() {
        assertThatThrownBy(() -> ValueBlockEntry.parse("V_vzz_0000000001", 64)).hasMessageContaining("not hex");
        assertThatThrownBy(() -> ValueBlockEntry.parse("V_x00_0000000001", 64))
                .hasMessageContaining("not a value block");
        assertThatThrownBy(() -> ValueBlockEntry.parse("V_v" + "00".repeat(65) + "_0000000001", 64))
                .hasMessageContaining("larger than");
    }
}
