package org.clustermd.bitmap.storage;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.UUID;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapException.Field;
import org.clustermd.bitmap.BitmapSuperblock;

/**
 * Encodes and decodes md's {@code bitmap_super_t} (md-bitmap.h, mdadm bitmap.h). All integers
 * are little-endian; the structure is 256 bytes and the bits of the slot follow it directly.
 *
 * <pre>
 * offset size field             rule checked on decode (and before encode, by validate)
 * ------ ---- ----------------- ------------------------------------------------------------
 *   0     4   magic             0x6d746962, the bytes "bitm"
 *   4     4   version           4 (BITMAP_MAJOR_HI) or 5 (BITMAP_MAJOR_CLUSTERED); 3 is the
 *                               host-endian format and is refused
 *   8    16   uuid              array UUID, bytes in order; any value
 *  24     8   events            array events at the last superblock write; &lt; 2^63
 *  32     8   events_cleared    array events when bits were last cleared; &lt; 2^63
 *  40     8   sync_size         sectors covered by the bitmap; &lt; 2^63
 *  48     4   state             only ACTIVE 0x1, STALE 0x2, WRITE_ERROR 0x4 may be set
 *  52     4   chunksize         bytes per bit; a power of two &gt;= 512
 *  56     4   daemon_sleep      seconds between daemon passes; &gt;= 1
 *  60     4   write_behind      &lt;= 16383 (COUNTER_MAX)
 *  64     4   sectors_reserved  sectors reserved for the bitmap, 0 = not recorded (mdadm);
 *                               when set, one slot must fit in it (checked with the geometry)
 *  68     4   nodes             version 5: &gt;= 1; version 4: 0
 *  72    64   cluster_name      UTF-8, NUL-terminated within the 64 bytes
 * 136   120   pad               written as zeros, ignored on read (md ignores it too)
 * 256     -   bits              one bit per chunk, LSB first: chunk c is bit c%8 of byte 256+c/8
 * </pre>
 *
 * <p>Stateless and thread-safe.
 */
public final class SuperblockCodec {
    public static final int OFF_MAGIC = 0;
    public static final int OFF_VERSION = 4;
    public static final int OFF_UUID = 8;
    public static final int OFF_EVENTS = 24;
    public static final int OFF_EVENTS_CLEARED = 32;
    public static final int OFF_SYNC_SIZE = 40;
    public static final int OFF_STATE = 48;
    public static final int OFF_CHUNKSIZE = 52;
    public static final int OFF_DAEMON_SLEEP = 56;
    public static final int OFF_WRITE_BEHIND = 60;
    public static final int OFF_SECTORS_RESERVED = 64;
    public static final int OFF_NODES = 68;
    public static final int OFF_CLUSTER_NAME = 72;
    public static final int OFF_PAD = 136;

    private static final int KNOWN_STATE =
            BitmapSuperblock.STATE_ACTIVE | BitmapSuperblock.STATE_STALE | BitmapSuperblock.STATE_WRITE_ERROR;

    private SuperblockCodec() {}

    /**
     * Writes {@code sb} into the 256 bytes of {@code dst} starting at absolute index {@code at}
     * (position and order of {@code dst} are left alone). The caller validates first.
     *
     * @throws IllegalArgumentException if a value does not fit its field
     */
    public static void encode(BitmapSuperblock sb, ByteBuffer dst, int at) {
        ByteBuffer b = dst.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        byte[] name = sb.clusterName().getBytes(StandardCharsets.UTF_8);
        if (name.length >= BitmapSuperblock.CLUSTER_NAME_BYTES) {
            throw new IllegalArgumentException("cluster_name '" + sb.clusterName() + "' is longer than 63 bytes");
        }
        b.putInt(at + OFF_MAGIC, BitmapSuperblock.MAGIC);
        b.putInt(at + OFF_VERSION, sb.version());
        b.order(ByteOrder.BIG_ENDIAN);
        b.putLong(at + OFF_UUID, sb.uuid().getMostSignificantBits());
        b.putLong(at + OFF_UUID + 8, sb.uuid().getLeastSignificantBits());
        b.order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(at + OFF_EVENTS, sb.events());
        b.putLong(at + OFF_EVENTS_CLEARED, sb.eventsCleared());
        b.putLong(at + OFF_SYNC_SIZE, sb.syncSize());
        b.putInt(at + OFF_STATE, sb.state());
        b.putInt(at + OFF_CHUNKSIZE, u32(sb.chunkSize(), "chunksize"));
        b.putInt(at + OFF_DAEMON_SLEEP, u32(sb.daemonSleep(), "daemon_sleep"));
        b.putInt(at + OFF_WRITE_BEHIND, u32(sb.writeBehind(), "write_behind"));
        b.putInt(at + OFF_SECTORS_RESERVED, u32(sb.sectorsReserved(), "sectors_reserved"));
        b.putInt(at + OFF_NODES, sb.nodes());
        for (int i = 0; i < BitmapSuperblock.CLUSTER_NAME_BYTES; i++) {
            b.put(at + OFF_CLUSTER_NAME + i, i < name.length ? name[i] : 0);
        }
        for (int i = OFF_PAD; i < BitmapSuperblock.SIZE; i++) {
            b.put(at + i, (byte) 0);
        }
    }

    /**
     * Reads and validates the superblock in the 256 bytes of {@code src} at absolute index
     * {@code at}.
     *
     * @param where names the storage and slot in error messages, e.g. {@code "leg0 slot 2"}
     * @throws BitmapException {@link BitmapException.Code#FORMAT} naming the first bad field
     */
    public static BitmapSuperblock decode(ByteBuffer src, int at, String where) throws BitmapException {
        ByteBuffer b = src.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        int magic = b.getInt(at + OFF_MAGIC);
        if (magic != BitmapSuperblock.MAGIC) {
            throw BitmapException.format(
                    Field.MAGIC,
                    String.format(
                            "%s: bad bitmap magic 0x%08x (expected 0x%08x, \"bitm\")",
                            where, magic, BitmapSuperblock.MAGIC));
        }
        b.order(ByteOrder.BIG_ENDIAN);
        UUID uuid = new UUID(b.getLong(at + OFF_UUID), b.getLong(at + OFF_UUID + 8));
        b.order(ByteOrder.LITTLE_ENDIAN);
        byte[] rawName = new byte[BitmapSuperblock.CLUSTER_NAME_BYTES];
        b.get(at + OFF_CLUSTER_NAME, rawName);
        BitmapSuperblock sb = new BitmapSuperblock(
                b.getInt(at + OFF_VERSION),
                uuid,
                b.getLong(at + OFF_EVENTS),
                b.getLong(at + OFF_EVENTS_CLEARED),
                b.getLong(at + OFF_SYNC_SIZE),
                b.getInt(at + OFF_STATE),
                Integer.toUnsignedLong(b.getInt(at + OFF_CHUNKSIZE)),
                Integer.toUnsignedLong(b.getInt(at + OFF_DAEMON_SLEEP)),
                Integer.toUnsignedLong(b.getInt(at + OFF_WRITE_BEHIND)),
                Integer.toUnsignedLong(b.getInt(at + OFF_SECTORS_RESERVED)),
                b.getInt(at + OFF_NODES),
                clusterName(rawName, where));
        validate(sb, where);
        return sb;
    }

    /**
     * Checks every field rule of the table above (everything but the geometry, which needs the
     * area: see {@code BitmapArea}).
     *
     * @throws BitmapException {@link BitmapException.Code#FORMAT} naming the first bad field
     */
    public static void validate(BitmapSuperblock sb, String where) throws BitmapException {
        int v = sb.version();
        if (v == 3) {
            throw BitmapException.format(
                    Field.VERSION,
                    where + ": bitmap version 3 is md's host-endian format;"
                            + " only versions 4 and 5 (little-endian) are supported");
        }
        if (v != BitmapSuperblock.VERSION_HI && v != BitmapSuperblock.VERSION_CLUSTERED) {
            throw BitmapException.format(
                    Field.VERSION,
                    where + ": unknown bitmap version " + Integer.toUnsignedString(v)
                            + " (expected 4, or 5 for a clustered bitmap)");
        }
        if (sb.events() < 0) {
            throw BitmapException.format(
                    Field.EVENTS, where + ": events " + Long.toUnsignedString(sb.events()) + " is beyond 2^63");
        }
        if (sb.eventsCleared() < 0) {
            throw BitmapException.format(
                    Field.EVENTS_CLEARED,
                    where + ": events_cleared " + Long.toUnsignedString(sb.eventsCleared()) + " is beyond 2^63");
        }
        if (sb.syncSize() < 0) {
            throw BitmapException.format(
                    Field.SYNC_SIZE,
                    where + ": sync_size " + Long.toUnsignedString(sb.syncSize()) + " sectors is beyond 2^63");
        }
        if ((sb.state() & ~KNOWN_STATE) != 0) {
            throw BitmapException.format(
                    Field.STATE,
                    String.format(
                            "%s: state 0x%x has unknown flags 0x%x"
                                    + " (known: ACTIVE 0x1, STALE 0x2, WRITE_ERROR 0x4)",
                            where, sb.state(), sb.state() & ~KNOWN_STATE));
        }
        if (sb.chunkSize() < 512) {
            throw BitmapException.format(
                    Field.CHUNKSIZE, where + ": chunksize " + sb.chunkSize() + " bytes is below md's minimum of 512");
        }
        if (Long.bitCount(sb.chunkSize()) != 1) {
            throw BitmapException.format(
                    Field.CHUNKSIZE, where + ": chunksize " + sb.chunkSize() + " bytes is not a power of two");
        }
        if (sb.daemonSleep() < 1 || sb.daemonSleep() > 0xFFFF_FFFFL) {
            throw BitmapException.format(
                    Field.DAEMON_SLEEP,
                    where + ": daemon_sleep " + sb.daemonSleep() + " s is out of range (1 .. 2^32-1)");
        }
        if (sb.writeBehind() < 0 || sb.writeBehind() > BitmapSuperblock.MAX_WRITE_BEHIND) {
            throw BitmapException.format(
                    Field.WRITE_BEHIND, where + ": write_behind " + sb.writeBehind() + " is out of range (0 - 16383)");
        }
        if (sb.sectorsReserved() < 0 || sb.sectorsReserved() > 0xFFFF_FFFFL) {
            throw BitmapException.format(
                    Field.SECTORS_RESERVED,
                    where + ": sectors_reserved " + sb.sectorsReserved() + " does not fit 32 bits");
        }
        if (v == BitmapSuperblock.VERSION_CLUSTERED && sb.nodes() < 1) {
            throw BitmapException.format(
                    Field.NODES,
                    where + ": clustered bitmap with nodes " + Integer.toUnsignedString(sb.nodes())
                            + " (needs at least 1)");
        }
        if (v == BitmapSuperblock.VERSION_HI && sb.nodes() != 0) {
            throw BitmapException.format(
                    Field.NODES,
                    where + ": version-4 (unclustered) bitmap with nodes " + Integer.toUnsignedString(sb.nodes())
                            + " (must be 0; clustered bitmaps are version 5)");
        }
        if (sb.clusterName().getBytes(StandardCharsets.UTF_8).length >= BitmapSuperblock.CLUSTER_NAME_BYTES
                || sb.clusterName().indexOf('\0') >= 0) {
            throw BitmapException.format(
                    Field.CLUSTER_NAME,
                    where + ": cluster_name '" + sb.clusterName() + "' must be at most 63 bytes without NUL");
        }
    }

    private static String clusterName(byte[] raw, String where) throws BitmapException {
        int len = 0;
        while (len < raw.length && raw[len] != 0) len++;
        if (len == raw.length) {
            throw BitmapException.format(
                    Field.CLUSTER_NAME, where + ": cluster_name is not NUL-terminated within its 64 bytes");
        }
        try {
            CharBuffer chars = StandardCharsets.UTF_8
                    .newDecoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .decode(ByteBuffer.wrap(raw, 0, len));
            return chars.toString();
        } catch (CharacterCodingException e) {
            throw BitmapException.format(Field.CLUSTER_NAME, where + ": cluster_name is not valid UTF-8");
        }
    }

    private static int u32(long v, String field) {
        if (v < 0 || v > 0xFFFF_FFFFL) throw new IllegalArgumentException(field + " " + v + " does not fit 32 bits");
        return (int) v;
    }
}
