package org.clustermd.cluster.message;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Random;
import java.util.UUID;
import java.util.stream.LongStream;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.sb.Superblock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * md's {@code struct cluster_msg} codec: every message survives a round trip, the bytes sit where
 * md puts them, and what is not a message is refused with a reason, never decoded into one
 * ({@code docs/lessons.md §10}: a receiver must not ack what it cannot act on).
 */
class MessageCodecTest {
    private static final int SLOTS = 8;

    static LongStream seeds() {
        return LongStream.range(0, 40).map(i -> 0x5eed0000L + i);
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void everyMessageSurvivesARoundTrip(long seed) throws Exception {
        Random r = new Random(seed);
        for (int i = 0; i < 200; i++) {
            Envelope e = new Envelope(r.nextInt(SLOTS), randomMessage(r));
            byte[] b = MessageCodec.encode(e);
            assertThat(b).as("seed %d: %s", seed, e).hasSize(MessageCodec.SIZE);
            assertThat(MessageCodec.decode(b, SLOTS)).as("seed %d", seed).isEqualTo(e);
        }
    }

    @ParameterizedTest
    @MethodSource("seeds")
    void garbageIsRefusedOrDecodedToAValidMessageNeverAnythingElse(long seed) {
        Random r = new Random(seed);
        for (int i = 0; i < 500; i++) {
            byte[] b = new byte[MessageCodec.SIZE];
            r.nextBytes(b);
            // keep the type small half of the time so the field checks are reached too
            if (r.nextBoolean())
                ByteBuffer.wrap(b)
                        .order(ByteOrder.LITTLE_ENDIAN)
                        .putInt(0, r.nextInt(12))
                        .putInt(4, r.nextInt(12));
            try {
                Envelope e = MessageCodec.decode(b, SLOTS);
                assertThat(e.senderSlot()).as("seed %d", seed).isBetween(0, SLOTS - 1);
                // what decodes must encode back to the same meaning
                assertThat(MessageCodec.decode(MessageCodec.encode(e), SLOTS))
                        .as("seed %d", seed)
                        .isEqualTo(e);
            } catch (Raid1Exception refused) {
                assertThat(refused.code()).isEqualTo(Raid1Exception.Code.CLUSTER);
                assertThat(refused.getMessage()).startsWith("malformed cluster message refused: ");
            }
        }
    }

    @Test
    void theFieldsSitWhereMdPutsThem() {
        UUID dev = UUID.fromString("00112233-4455-6677-8899-aabbccddeeff");
        ByteBuffer b = le(MessageCodec.encode(new Envelope(3, new ClusterMessage.NewDisk(dev, 5))));
        assertThat(b.getInt(0)).as("type").isEqualTo(2);
        assertThat(b.getInt(4)).as("slot").isEqualTo(3);
        assertThat(b.get(24)).as("uuid, raw superblock byte order").isEqualTo((byte) 0x00);
        assertThat(b.get(39)).isEqualTo((byte) 0xff);
        assertThat(b.getInt(40)).as("raid_slot").isEqualTo(5);

        ByteBuffer r = le(MessageCodec.encode(new Envelope(1, new ClusterMessage.Resyncing(65536, 131072))));
        assertThat(r.getInt(0)).isEqualTo(1);
        assertThat(r.getLong(8)).as("low").isEqualTo(65536);
        assertThat(r.getLong(16)).as("high").isEqualTo(131072);

        ByteBuffer m = le(MessageCodec.encode(new Envelope(0, new ClusterMessage.MetadataUpdated(7))));
        assertThat(m.getInt(0)).isZero();
        assertThat(m.getInt(40)).isEqualTo(7);
        assertThat(le(MessageCodec.encode(new Envelope(0, new ClusterMessage.ResyncingStart())))
                        .getInt(0))
                .isEqualTo(8);
        assertThat(le(MessageCodec.encode(new Envelope(0, new ClusterMessage.BitmapResize(999))))
                        .getLong(16))
                .isEqualTo(999);
    }

    @Test
    void anUnknownTypeIsRefused() {
        byte[] b = MessageCodec.encode(new Envelope(0, new ClusterMessage.ResyncingStart()));
        le(b).putInt(0, 9);
        assertThatThrownBy(() -> MessageCodec.decode(b, SLOTS))
                .isInstanceOf(Raid1Exception.class)
                .hasMessageContaining("unknown message type 9");
        le(b).putInt(0, -1);
        assertThatThrownBy(() -> MessageCodec.decode(b, SLOTS)).hasMessageContaining("unknown message type 4294967295");
    }

    @Test
    void aSlotOutsideTheLockspaceIsRefused() {
        byte[] b = MessageCodec.encode(new Envelope(0, new ClusterMessage.MetadataUpdated(0)));
        le(b).putInt(4, SLOTS);
        assertThatThrownBy(() -> MessageCodec.decode(b, SLOTS))
                .hasMessageContaining("from slot 8, outside the lockspace's 8 slots");
    }

    @Test
    void malformedFieldsAreRefusedWithTheirReason() {
        byte[] window = MessageCodec.encode(new Envelope(1, new ClusterMessage.Resyncing(100, 200)));
        le(window).putLong(16, 50);
        assertThatThrownBy(() -> MessageCodec.decode(window, SLOTS))
                .hasMessageContaining("bad resync window [100, 50)");
        le(window).putLong(8, -1).putLong(16, 0);
        assertThatThrownBy(() -> MessageCodec.decode(window, SLOTS)).hasMessageContaining("bad resync window");

        byte[] dev = MessageCodec.encode(new Envelope(1, new ClusterMessage.Remove(2)));
        le(dev).putInt(40, Superblock.MAX_MAX_DEV);
        assertThatThrownBy(() -> MessageCodec.decode(dev, SLOTS))
                .hasMessageContaining("REMOVE from slot 1: device number");
        le(dev).putInt(40, -1);
        assertThatThrownBy(() -> MessageCodec.decode(dev, SLOTS)).hasMessageContaining("device number -1");

        assertThatThrownBy(() -> MessageCodec.decode(new byte[16], SLOTS)).hasMessageContaining("holds 16 bytes");
    }

    @Test
    void bitmapResizeIsReceiveOnly() {
        assertThat(MessageType.BITMAP_RESIZE.sendable()).isFalse();
        assertThat(java.util.Arrays.stream(MessageType.values()).filter(t -> t != MessageType.BITMAP_RESIZE))
                .allMatch(MessageType::sendable);
    }

    private static ClusterMessage randomMessage(Random r) {
        int dev = r.nextInt(Superblock.MAX_MAX_DEV);
        long a = r.nextLong() & Long.MAX_VALUE;
        long c = r.nextLong() & Long.MAX_VALUE;
        return switch (MessageType.values()[r.nextInt(MessageType.values().length)]) {
            case METADATA_UPDATED -> new ClusterMessage.MetadataUpdated(dev);
            case RESYNCING ->
                r.nextInt(4) == 0
                        ? new ClusterMessage.Resyncing(0, 0)
                        : new ClusterMessage.Resyncing(Math.min(a, c), Math.max(a, c));
            case NEWDISK -> new ClusterMessage.NewDisk(new UUID(r.nextLong(), r.nextLong()), dev);
            case REMOVE -> new ClusterMessage.Remove(dev);
            case RE_ADD -> new ClusterMessage.ReAdd(dev);
            case BITMAP_NEEDS_SYNC -> new ClusterMessage.BitmapNeedsSync();
            case CHANGE_CAPACITY -> new ClusterMessage.ChangeCapacity();
            case BITMAP_RESIZE -> new ClusterMessage.BitmapResize(a);
            case RESYNCING_START -> new ClusterMessage.ResyncingStart();
        };
    }

    private static ByteBuffer le(byte[] b) {
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
    }
}
