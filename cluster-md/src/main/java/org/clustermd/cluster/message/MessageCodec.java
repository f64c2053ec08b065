package org.clustermd.cluster.message;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.UUID;
import org.clustermd.raid1.Raid1Exception;

/**
 * md's {@code struct cluster_msg} in the 64-byte {@code message} LVB, little-endian:
 *
 * <pre>
 * offset size field      used by
 *   0     4   type       every message ({@link MessageType#code()})
 *   4     4   slot       every message: the sender's 0-based slot
 *   8     8   low        RESYNCING: window start (sector)
 *  16     8   high       RESYNCING: window end (exclusive); BITMAP_RESIZE: the new size (sectors)
 *  24    16   uuid       NEWDISK: the new device's device_uuid, its 16 raw superblock bytes
 *  40     4   raid_slot  METADATA_UPDATED, NEWDISK, REMOVE, RE_ADD: a desc_nr
 *  44    20   (zero)
 * </pre>
 *
 * Fields a type does not use are written as zero and ignored on reading, as md does. A message
 * that cannot be decoded (a type md does not define, a slot outside the lockspace, a negative or
 * reversed range, a device number outside {@code dev_roles}) is refused with a
 * {@link Raid1Exception} CLUSTER naming what is wrong: the receiver must not ack it
 * ({@code docs/lessons.md §10}).
 *
 * <p>Stateless and thread-safe.
 */
public final class MessageCodec {
    /** The LVB size md-cluster uses; a message is always this long on the wire. */
    public static final int SIZE = 64;

    private static final int TYPE = 0;
    private static final int SLOT = 4;
    private static final int LOW = 8;
    private static final int HIGH = 16;
    private static final int UUID_AT = 24;
    private static final int RAID_SLOT = 40;

    private MessageCodec() {}

    /** The LVB bytes of {@code message} sent from {@code senderSlot}. */
    public static byte[] encode(Envelope envelope) {
        ClusterMessage message = envelope.message();
        ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(TYPE, message.type().code());
        b.putInt(SLOT, envelope.senderSlot());
        if (message instanceof ClusterMessage.MetadataUpdated m) {
            b.putInt(RAID_SLOT, m.devNumber());
        } else if (message instanceof ClusterMessage.Resyncing r) {
            b.putLong(LOW, r.lo()).putLong(HIGH, r.hi());
        } else if (message instanceof ClusterMessage.NewDisk n) {
            putUuid(b, n.deviceUuid());
            b.putInt(RAID_SLOT, n.devNumber());
        } else if (message instanceof ClusterMessage.Remove r) {
            b.putInt(RAID_SLOT, r.devNumber());
        } else if (message instanceof ClusterMessage.ReAdd r) {
            b.putInt(RAID_SLOT, r.devNumber());
        } else if (message instanceof ClusterMessage.BitmapResize r) {
            b.putLong(HIGH, r.sizeSectors());
        }
        // BITMAP_NEEDS_SYNC, CHANGE_CAPACITY and RESYNCING_START carry only type and slot
        return b.array();
    }

    /**
     * Decodes an LVB received in a lockspace of {@code slotCount} slots.
     *
     * @throws Raid1Exception CLUSTER when the bytes are not a message this node can act on
     */
    public static Envelope decode(byte[] lvb, int slotCount) throws Raid1Exception {
        if (lvb.length < RAID_SLOT + 4)
            throw refused("the value block holds " + lvb.length + " bytes, a message needs " + (RAID_SLOT + 4));
        ByteBuffer b = ByteBuffer.wrap(lvb).order(ByteOrder.LITTLE_ENDIAN);
        int code = b.getInt(TYPE);
        MessageType type = MessageType.byCode(code);
        if (type == null) throw refused("unknown message type " + Integer.toUnsignedString(code));
        int slot = b.getInt(SLOT);
        if (slot < 0 || slot >= slotCount) {
            throw refused(type + " from slot " + Integer.toUnsignedString(slot) + ", outside the lockspace's "
                    + slotCount + " slots");
        }
        long low = b.getLong(LOW);
        long high = b.getLong(HIGH);
        int devNumber = b.getInt(RAID_SLOT);
        try {
            ClusterMessage m = switch (type) {
                case METADATA_UPDATED -> new ClusterMessage.MetadataUpdated(devNumber);
                case RESYNCING -> new ClusterMessage.Resyncing(low, high);
                case NEWDISK -> new ClusterMessage.NewDisk(getUuid(b), devNumber);
                case REMOVE -> new ClusterMessage.Remove(devNumber);
                case RE_ADD -> new ClusterMessage.ReAdd(devNumber);
                case BITMAP_NEEDS_SYNC -> new ClusterMessage.BitmapNeedsSync();
                case CHANGE_CAPACITY -> new ClusterMessage.ChangeCapacity();
                case BITMAP_RESIZE -> new ClusterMessage.BitmapResize(high);
                case RESYNCING_START -> new ClusterMessage.ResyncingStart();
            };
            return new Envelope(slot, m);
        } catch (IllegalArgumentException e) {
            throw refused(type + " from slot " + slot + ": " + e.getMessage());
        }
    }

    private static Raid1Exception refused(String why) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, "malformed cluster message refused: " + why);
    }

    // the superblock codec reads md's 16 raw UUID bytes as Java's big-endian halves; so does the message
    private static void putUuid(ByteBuffer b, UUID u) {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        be.putLong(UUID_AT, u.getMostSignificantBits()).putLong(UUID_AT + 8, u.getLeastSignificantBits());
    }

    private static UUID getUuid(ByteBuffer b) {
        ByteBuffer be = b.duplicate().order(ByteOrder.BIG_ENDIAN);
        return new UUID(be.getLong(UUID_AT), be.getLong(UUID_AT + 8));
    }
}
