package org.clustermd.dlm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.dlm.LockMode.CR;
import static org.clustermd.dlm.LockMode.CW;
import static org.clustermd.dlm.LockMode.EX;
import static org.clustermd.dlm.LockMode.NL;
import static org.clustermd.dlm.LockMode.PR;
import static org.clustermd.dlm.LockMode.PW;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import org.clustermd.dlm.LockMode.ValueBlockTransfer;
import org.junit.jupiter.api.Test;

class LockModeTest {
    // docs/design.md §3, written out independently of LockMode's own table
    private static final Map<LockMode, Set<LockMode>> COMPATIBLE = Map.of(
            NL, EnumSet.allOf(LockMode.class),
            CR, EnumSet.of(NL, CR, CW, PR, PW),
            CW, EnumSet.of(NL, CR, CW),
            PR, EnumSet.of(NL, CR, PR),
            PW, EnumSet.of(NL, CR),
            EX, EnumSet.of(NL));

    @Test
    void compatibilityMatrixIsTheDlmMatrix() {
        for (LockMode a : LockMode.values()) {
            for (LockMode b : LockMode.values()) {
                assertThat(a.isCompatibleWith(b))
                        .as(a + " with " + b)
                        .isEqualTo(COMPATIBLE.get(a).contains(b));
                assertThat(a.isCompatibleWith(b)).as("symmetric " + a + "/" + b).isEqualTo(b.isCompatibleWith(a));
            }
        }
    }

    @Test
    void downConversionsAreThoseThatCanNeverWait() {
        for (LockMode from : LockMode.values()) {
            for (LockMode to : LockMode.values()) {
                boolean expected = COMPATIBLE.get(to).containsAll(COMPATIBLE.get(from));
                assertThat(from.isDownConversionTo(to)).as(from + "->" + to).isEqualTo(expected);
            }
        }
        assertThat(EX.isDownConversionTo(NL)).isTrue();
        assertThat(PW.isDownConversionTo(CW)).isTrue();
        assertThat(PR.isDownConversionTo(CW)).isFalse();
        assertThat(CR.isDownConversionTo(EX)).isFalse();
    }

    /** fs/dlm/lock.c dlm_lvb_operations: rows granted UN NL CR CW PR PW EX, columns requested NL..EX. */
    @Test
    void valueBlockTransferFollowsTheLinuxDlmTable() {
        // 1 = read into the lock, 0 = write to the resource, -1 = nothing
        int[][] table = {
            /* UN */ {1, 1, 1, 1, 1, 1},
            /* NL */ {1, 1, 1, 1, 1, 1},
            /* CR */ {-1, 1, 1, 1, 1, 1},
            /* CW */ {-1, -1, 1, 1, 1, 1},
            /* PR */ {-1, -1, -1, 1, 1, 1},
            /* PW */ {0, 0, 0, 0, 0, 1},
            /* EX */ {0, 0, 0, 0, 0, 0},
        };
        LockMode[] rows = {null, NL, CR, CW, PR, PW, EX};
        for (int r = 0; r < rows.length; r++) {
            for (LockMode to : LockMode.values()) {
                ValueBlockTransfer expected = switch (table[r][to.ordinal()]) {
                    case 1 -> ValueBlockTransfer.READ;
                    case 0 -> ValueBlockTransfer.WRITE;
                    default -> ValueBlockTransfer.NONE;
                };
                assertThat(LockMode.transferOnGrant(rows[r], to))
                        .as(rows[r] + "->" + to)
                        .isEqualTo(expected);
            }
        }
        assertThat(PW.transferOnUnlock()).isEqualTo(ValueBlockTransfer.WRITE);
        assertThat(EX.transferOnUnlock()).isEqualTo(ValueBlockTransfer.WRITE);
        assertThat(PR.transferOnUnlock()).isEqualTo(ValueBlockTransfer.NONE);
    }

    @Test
    void everyWritingTransferIsADownConversionSoItNeverWaits() {
        for (LockMode from : LockMode.values()) {
            for (LockMode to : LockMode.values()) {
                if (LockMode.transferOnGrant(from, to) == ValueBlockTransfer.WRITE) {
                    assertThat(from.isDownConversionTo(to)).as(from + "->" + to).isTrue();
                }
            }
        }
    }

    @Test
    void nodeSlotConvertsTheKernelsOneBasedSlotInOnePlace() {
        assertThat(NodeSlot.fromDlmSlot(1)).isEqualTo(new NodeSlot(0));
        assertThat(new NodeSlot(3).dlmSlot()).isEqualTo(4);
        assertThat(new NodeSlot(3).bitmapLockName()).isEqualTo("bitmap0003");
    }
}
