package org.clustermd.dlm.zk;

import java.util.Arrays;
import java.util.HexFormat;
import org.clustermd.dlm.LockValueBlock;

/**
 * A resource's lock value block, kept in a znode name like the locks so that watch events carry
 * it: {@code V_<v|n><hex>_<seq10>}, where {@code v} marks a valid LVB and {@code n} one whose
 * PW/EX holder died (VALNOTVALID), and {@code hex} is the value with trailing zero bytes trimmed.
 * A resource with no such znode has an all-zero valid LVB. A write replaces the znode (create
 * the new one, then delete the old, in one transaction).
 *
 * <p>Immutable and thread-safe.
 *
 * @param valueBlock the value (zero-padded to the lockspace's LVB size by the reader)
 * @param seq the ZooKeeper sequence number, which orders replacements
 * @param znode the znode name
 */
record ValueBlockEntry(LockValueBlock valueBlock, long seq, String znode) {
    static final String PREFIX = "V_";
    private static final HexFormat HEX = HexFormat.of();

    static String prefix(LockValueBlock lvb) {
        byte[] b = lvb.toByteArray();
        int end = b.length;
        while (end > 0 && b[end - 1] == 0) {
            end--;
        }
        return PREFIX + (lvb.isValid() ? "v" : "n") + HEX.formatHex(b, 0, end) + "_";
    }

    /** Parses a value-block znode name, zero-padding to {@code size} bytes. */
    static ValueBlockEntry parse(String znode, int size) {
        String[] f = znode.split("_", -1);
        if (f.length != 3
                || !f[0].equals("V")
                || f[1].isEmpty()
                || (f[1].charAt(0) != 'v' && f[1].charAt(0) != 'n')
                || f[2].length() != 10) {
            throw new IllegalArgumentException(
                    "not a value block znode name (expected V_<v|n><hex>_<seq10>): '" + znode + "'");
        }
        byte[] bytes;
        try {
            bytes = HEX.parseHex(f[1].substring(1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("value block znode '" + znode + "': value is not hex");
        }
        if (bytes.length > size) {
            throw new IllegalArgumentException("value block znode '" + znode + "': " + bytes.length
                    + " bytes, larger than the lockspace's LVB size " + size);
        }
        long seq;
        try {
            seq = Long.parseLong(f[2]);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("value block znode '" + znode + "': bad sequence");
        }
        LockValueBlock lvb = LockValueBlock.of(Arrays.copyOf(bytes, size));
        return new ValueBlockEntry(f[1].charAt(0) == 'v' ? lvb : lvb.invalidated(), seq, znode);
    }

    /**
     * The value a PW/EX holder writes: its LVB, valid. The Linux DLM copies the lock's LVB into the
     * resource and clears VALNOTVALID on every such down-conversion or unlock, whether or not the
     * holder changed it; a holder that never called setValueBlock republishes the bytes it read.
     */
    static LockValueBlock toPublish(LockValueBlock lvb) {
        return lvb.isValid() ? lvb : LockValueBlock.of(lvb.asReadOnlyBuffer());
    }
}
