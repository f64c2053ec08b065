package org.clustermd.dlm;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A lock value block (LVB): a small register attached to a lock resource, 64 bytes by default.
 * It is read when a lock is granted and written when a PW/EX holder converts down or unlocks
 * (see {@link LockMode#transferOnGrant}). If a PW/EX holder dies, the resource's LVB becomes
 * <em>not valid</em> ({@link #isValid()} false, the DLM's VALNOTVALID) until the next PW/EX
 * holder writes it; the bytes are then whatever the resource last held.
 *
 * <p>Immutable and thread-safe.
 */
public final class LockValueBlock {
    /** The LVB length md-cluster uses and the default for a lockspace. */
    public static final int DEFAULT_SIZE = 64;

    private static final HexFormat HEX = HexFormat.of();

    private final byte[] bytes;
    private final boolean valid;

    private LockValueBlock(byte[] bytes, boolean valid) {
        this.bytes = bytes;
        this.valid = valid;
    }

    /** A valid LVB of {@code size} zero bytes: what a resource holds before anyone wrote it. */
    public static LockValueBlock zeros(int size) {
        return new LockValueBlock(new byte[size], true);
    }

    /** A valid LVB holding a copy of {@code value}. */
    public static LockValueBlock of(byte[] value) {
        return new LockValueBlock(value.clone(), true);
    }

    /** A valid LVB holding a copy of the remaining bytes of {@code value}. */
    public static LockValueBlock of(ByteBuffer value) {
        byte[] b = new byte[value.remaining()];
        value.duplicate().get(b);
        return new LockValueBlock(b, true);
    }

    /** This LVB's bytes, marked not valid (its last writer died while holding PW/EX). */
    public LockValueBlock invalidated() {
        return new LockValueBlock(bytes, false);
    }

    /** False when the last PW/EX holder died before writing it (VALNOTVALID). */
    public boolean isValid() {
        return valid;
    }

    public int size() {
        return bytes.length;
    }

    /** A read-only view of the bytes. */
    public ByteBuffer asReadOnlyBuffer() {
        return ByteBuffer.wrap(bytes).asReadOnlyBuffer();
    }

    /** A copy of the bytes. */
    public byte[] toByteArray() {
        return bytes.clone();
    }

    /** The bytes in lower-case hex, as {@code dlm dump} prints them. */
    public String toHex() {
        return HEX.formatHex(bytes);
    }

    /** This LVB padded with zeros or truncated to {@code size} bytes, keeping validity. */
    public LockValueBlock resized(int size) {
        return size == bytes.length ? this : new LockValueBlock(Arrays.copyOf(bytes, size), valid);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof LockValueBlock other && valid == other.valid && Arrays.equals(bytes, other.bytes);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(bytes) * 31 + (valid ? 1 : 0);
    }

    @Override
    public String toString() {
        return (valid ? "" : "(not valid) ") + toHex();
    }
}
