package org.clustermd.raid1.sb;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * Test-only writer of md's 256-byte bitmap superblock (bitmap_super_t, md-bitmap.h), just enough
 * to give mdadm a clustered bitmap to find. The bitmap module owns the real codec.
 */
final class TestBitmapSuperblocks {
    static final int BITMAP_MAGIC = 0x6d746962; // "bitm"
    static final int BITMAP_MAJOR_CLUSTERED = 5;

    private TestBitmapSuperblocks() {}

    /** Writes a bitmap superblock at {@code at} in {@code b}, followed by {@code dirtyBits} leading one bits. */
    static void put(
            ByteBuffer b,
            int at,
            UUID uuid,
            long events,
            long eventsCleared,
            long syncSizeSectors,
            int chunkBytes,
            int nodes,
            String clusterName,
            int dirtyBits) {
        ByteBuffer le = b.duplicate().order(ByteOrder.LITTLE_ENDIAN);
        le.putInt(at, BITMAP_MAGIC);
        le.putInt(at + 4, BITMAP_MAJOR_CLUSTERED);
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        be.putLong(at + 8, uuid.getMostSignificantBits());
        be.putLong(at + 16, uuid.getLeastSignificantBits());
        le.putLong(at + 24, events);
        le.putLong(at + 32, eventsCleared);
        le.putLong(at + 40, syncSizeSectors);
        le.putInt(at + 48, 0); // state
        le.putInt(at + 52, chunkBytes);
        le.putInt(at + 56, 5); // daemon_sleep, seconds
        le.putInt(at + 60, 0); // write_behind
        le.putInt(at + 64, 0); // sectors_reserved
        le.putInt(at + 68, nodes);
        byte[] name = clusterName.getBytes(StandardCharsets.UTF_8);
        le.put(at + 72, name);
        for (int i = 0; i < dirtyBits; i++) {
            int idx = at + 256 + i / 8;
            le.put(idx, (byte) (le.get(idx) | (1 << (i % 8))));
        }
    }
}
