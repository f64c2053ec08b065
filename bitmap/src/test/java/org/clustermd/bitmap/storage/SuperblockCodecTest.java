package org.clustermd.bitmap.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.UUID;
import java.util.function.Consumer;
import java.util.stream.LongStream;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapException.Field;
import org.clustermd.bitmap.BitmapSuperblock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class SuperblockCodecTest {

    static LongStream seeds() {
        return LongStream.range(1, 41);
    }

    /** A random superblock that md could have written. */
    static BitmapSuperblock random(Random r) {
        boolean clustered = r.nextBoolean();
        int nodes = clustered ? 1 + r.nextInt(64) : 0;
        StringBuilder name = new StringBuilder();
        if (clustered) {
            int len = r.nextInt(64);
            for (int i = 0; i < len; i++) name.append((char) ('a' + r.nextInt(26)));
        }
        int[] states = {
            0, BitmapSuperblock.STATE_ACTIVE, BitmapSuperblock.STATE_STALE, BitmapSuperblock.STATE_WRITE_ERROR, 7
        };
        return new BitmapSuperblock(
                clustered ? BitmapSuperblock.VERSION_CLUSTERED : BitmapSuperblock.VERSION_HI,
                new UUID(r.nextLong(), r.nextLong()),
                r.nextLong() & Long.MAX_VALUE,
                r.nextLong() & Long.MAX_VALUE,
                r.nextLong() & Long.MAX_VALUE,
                states[r.nextInt(states.length)],
                512L << r.nextInt(23),
                1 + (r.nextLong() & 0xFFFF_FFFEL),
                r.nextInt(16384),
                r.nextLong() & 0xFFFF_FFFFL,
                nodes,
                name.toString());
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void roundTripKeepsEveryField(long seed) throws Exception {
        Random r = new Random(seed);
        for (int i = 0; i < 50; i++) {
            BitmapSuperblock sb = random(r);
            int at = r.nextInt(4) * 256;
            ByteBuffer buf = ByteBuffer.allocate(2048);
            SuperblockCodec.encode(sb, buf, at);
            assertThat(SuperblockCodec.decode(buf, at, "seed " + seed))
                    .as("seed %d case %d", seed, i)
                    .isEqualTo(sb);
        }
    }

    @Test
    void layoutIsMdsByteForByte() {
        UUID uuid = UUID.fromString("00010203-0405-0607-0809-0a0b0c0d0e0f");
        BitmapSuperblock sb =
                new BitmapSuperblock(5, uuid, 0x1122334455667788L, 7, 2097152, 2, 65536, 5, 0, 128, 4, "clu");
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        SuperblockCodec.encode(sb, b, 0);
        assertThat(new String(new byte[] {b.get(0), b.get(1), b.get(2), b.get(3)}, StandardCharsets.US_ASCII))
                .isEqualTo("bitm");
        assertThat(b.getInt(4)).isEqualTo(5);
        for (int i = 0; i < 16; i++) assertThat(b.get(8 + i)).isEqualTo((byte) i);
        assertThat(b.get(24)).isEqualTo((byte) 0x88);
        assertThat(b.getLong(24)).isEqualTo(0x1122334455667788L);
        assertThat(b.getLong(32)).isEqualTo(7);
        assertThat(b.getLong(40)).isEqualTo(2097152);
        assertThat(b.getInt(48)).isEqualTo(2);
        assertThat(b.getInt(52)).isEqualTo(65536);
        assertThat(b.getInt(56)).isEqualTo(5);
        assertThat(b.getInt(60)).isZero();
        assertThat(b.getInt(64)).isEqualTo(128);
        assertThat(b.getInt(68)).isEqualTo(4);
        assertThat(b.get(72)).isEqualTo((byte) 'c');
        assertThat(b.get(75)).isZero();
        for (int i = 136; i < 256; i++) assertThat(b.get(i)).isZero();
    }

    private static ByteBuffer valid() {
        ByteBuffer b = ByteBuffer.allocate(256).order(ByteOrder.LITTLE_ENDIAN);
        SuperblockCodec.encode(BitmapSuperblock.clustered(UUID.randomUUID(), 1 << 20, 1 << 16, 4, "clu"), b, 0);
        return b;
    }

    private static void assertRejected(Consumer<ByteBuffer> corrupt, Field field, String messagePart) {
        ByteBuffer b = valid();
        corrupt.accept(b);
        assertThatThrownBy(() -> SuperblockCodec.decode(b, 0, "leg0 slot 2"))
                .isInstanceOf(BitmapException.class)
                .satisfies(e -> {
                    BitmapException be = (BitmapException) e;
                    assertThat(be.code()).isEqualTo(BitmapException.Code.FORMAT);
                    assertThat(be.field()).contains(field);
                })
                .hasMessageContaining("leg0 slot 2")
                .hasMessageContaining(messagePart);
    }

    @Test
    void badMagicIsNamed() {
        assertRejected(b -> b.putInt(0, 0x6d746963), Field.MAGIC, "bad bitmap magic 0x6d746963");
        assertRejected(b -> b.putInt(0, 0), Field.MAGIC, "magic");
    }

    @Test
    void badVersionIsNamed() {
        assertRejected(b -> b.putInt(4, 3), Field.VERSION, "host-endian");
        assertRejected(b -> b.putInt(4, 6), Field.VERSION, "unknown bitmap version 6");
        assertRejected(b -> b.putInt(4, -1), Field.VERSION, "4294967295");
    }

    @Test
    void badChunkSizeIsNamed() {
        assertRejected(b -> b.putInt(52, 256), Field.CHUNKSIZE, "below md's minimum of 512");
        assertRejected(b -> b.putInt(52, 0), Field.CHUNKSIZE, "chunksize 0");
        assertRejected(b -> b.putInt(52, 3 * 4096), Field.CHUNKSIZE, "not a power of two");
        assertRejected(b -> b.putInt(52, -1), Field.CHUNKSIZE, "4294967295");
    }

    @Test
    void otherFieldsAreNamed() {
        assertRejected(b -> b.putInt(56, 0), Field.DAEMON_SLEEP, "daemon_sleep 0");
        assertRejected(b -> b.putInt(60, 16384), Field.WRITE_BEHIND, "0 - 16383");
        assertRejected(b -> b.putInt(48, 0x10), Field.STATE, "unknown flags 0x10");
        assertRejected(b -> b.putLong(40, -1), Field.SYNC_SIZE, "sync_size 18446744073709551615");
        assertRejected(b -> b.putLong(24, Long.MIN_VALUE), Field.EVENTS, "events");
        assertRejected(b -> b.putLong(32, -5), Field.EVENTS_CLEARED, "events_cleared");
        assertRejected(b -> b.putInt(68, 0), Field.NODES, "nodes 0");
        assertRejected(
                b -> {
                    b.putInt(4, 4); // unclustered but with nodes
                },
                Field.NODES,
                "must be 0");
        assertRejected(
                b -> {
                    for (int i = 72; i < 136; i++) b.put(i, (byte) 'x');
                },
                Field.CLUSTER_NAME,
                "not NUL-terminated");
        assertRejected(
                b -> {
                    b.put(72, (byte) 0xC3);
                    b.put(73, (byte) 0x28);
                },
                Field.CLUSTER_NAME,
                "UTF-8");
    }

    @Test
    void validateRefusesWhatCannotBeEncoded() {
        BitmapSuperblock longName = BitmapSuperblock.clustered(UUID.randomUUID(), 100, 4096, 2, "x".repeat(64));
        assertThatThrownBy(() -> SuperblockCodec.validate(longName, "t"))
                .isInstanceOfSatisfying(
                        BitmapException.class, e -> assertThat(e.field()).contains(Field.CLUSTER_NAME));
    }
}
