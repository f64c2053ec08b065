package org.clustermd.cluster.message;

/**
 * md-cluster's {@code enum msg_type}: the number each message carries in its first four bytes.
 * New types are only ever appended (md's rule), so the numbers never change.
 */
public enum MessageType {
    METADATA_UPDATED(0, true),
    RESYNCING(1, true),
    NEWDISK(2, true),
    REMOVE(3, true),
    RE_ADD(4, true),
    BITMAP_NEEDS_SYNC(5, true),
    CHANGE_CAPACITY(6, true),
    /** md sends it only for a RAID10 reshape; a RAID1 node decodes it and never sends it. */
    BITMAP_RESIZE(7, false),
    RESYNCING_START(8, true);

    private static final MessageType[] BY_CODE = values();

    private final int code;
    private final boolean sendable;

    MessageType(int code, boolean sendable) {
        this.code = code;
        this.sendable = sendable;
    }

    /** The number on the wire. */
    public int code() {
        return code;
    }

    /** False for a type this RAID1 implementation only receives. */
    public boolean sendable() {
        return sendable;
    }

    /** The type numbered {@code code}, or null for a number md does not define. */
    static MessageType byCode(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
