package org.clustermd.raid1.verify;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.zip.CRC32C;

/**
 * The layout of one 4 KiB stamped block (all little-endian):
 *
 * <pre>
 *    0   8  magic "CMDSTAMP"
 *    8   8  byte offset of the block in the array
 *   16   8  writer id
 *   24   8  write id (unique per writer, increasing)
 *   32 4056 fill: a xorshift stream seeded by (offset, writer, write id)
 * 4088   8  CRC32C of bytes 0..4087
 * </pre>
 *
 * A block of zeros is "never written". Anything else that fails the checks is reported with
 * what is wrong (checksum, magic, offset).
 *
 * <p>Stateless and thread-safe.
 */
public final class StampedBlock {
    public static final int SIZE = 4096;
    private static final long MAGIC = 0x504d415453444d43L; // "CMDSTAMP" little-endian
    private static final int CRC_AT = SIZE - 8;

    /** A decoded block. */
    public record Stamp(long offset, long writer, long writeId) {}

    private StampedBlock() {}

    /** Writes the stamp of ({@code offset}, {@code writer}, {@code writeId}) at {@code at} of {@code dst}. */
    public static void stamp(ByteBuffer dst, int at, long offset, long writer, long writeId) {
        ByteBuffer b = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(at, MAGIC);
        b.putLong(at + 8, offset);
        b.putLong(at + 16, writer);
        b.putLong(at + 24, writeId);
        long x = mix(offset, writer, writeId);
        for (int i = 32; i < CRC_AT; i += 8) {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            b.putLong(at + i, x);
        }
        b.putLong(at + CRC_AT, crc(b, at));
    }

    private static long mix(long a, long b, long c) {
        long x = a * 0x9E3779B97F4A7C15L ^ b * 0xC2B2AE3D27D4EB4FL ^ c * 0x165667B19E3779F9L;
        return x == 0 ? 1 : x;
    }

    private static long crc(ByteBuffer b, int at) {
        CRC32C c = new CRC32C();
        c.update(b.duplicate().position(at).limit(at + CRC_AT));
        return c.getValue();
    }

    /** True when the block at {@code at} is all zeros. */
    public static boolean isZero(ByteBuffer src, int at) {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < SIZE; i += 8) if (b.getLong(at + i) != 0) return false;
        return true;
    }

    /**
     * Decodes the block at {@code at}, which should sit at array byte {@code expectedOffset}.
     *
     * @return the stamp, or null for a zero block
     * @throws IllegalStateException describing what is wrong with a corrupt block
     */
    public static Stamp read(ByteBuffer src, int at, long expectedOffset) {
        if (isZero(src, at)) return null;
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        if (b.getLong(at) != MAGIC) throw new IllegalStateException("block at " + expectedOffset + ": no stamp magic");
        if (b.getLong(at + CRC_AT) != crc(b, at)) {
            throw new IllegalStateException("block at " + expectedOffset + ": checksum mismatch (torn or corrupt)");
        }
        long off = b.getLong(at + 8);
        if (off != expectedOffset) {
            throw new IllegalStateException("block at " + expectedOffset + ": carries the stamp of offset " + off);
        }
        Stamp s = new Stamp(off, b.getLong(at + 16), b.getLong(at + 24));
        ByteBuffer expect = ByteBuffer.allocate(SIZE);
        stamp(expect, 0, s.offset(), s.writer(), s.writeId());
        if (b.slice(at, SIZE).mismatch(expect) >= 0) {
            throw new IllegalStateException("block at " + expectedOffset + ": fill does not match its stamp");
        }
        return s;
    }
}
