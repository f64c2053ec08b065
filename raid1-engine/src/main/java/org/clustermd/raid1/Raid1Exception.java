package org.clustermd.raid1;

import java.io.IOException;
import java.util.Objects;

/**
 * The one checked exception of the raid1 engine: a request or an administrative operation on an
 * array failed, and {@link #code()} says why. Storage errors of a single leg stay
 * {@link org.clustermd.raid1.io.BlockDeviceException}s inside the engine (the leg is failed and
 * the array carries on); this exception is what the caller of the array sees.
 *
 * <p>Messages name the array and, where one is involved, the leg or field.
 *
 * <p>Immutable and therefore thread-safe.
 */
public final class Raid1Exception extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Code {
        /** Offset or length is not a multiple of the array's logical block size. */
        UNALIGNED,
        /** The request reaches past the end of the array, or has a negative offset or length. */
        OUT_OF_RANGE,
        /** The buffer cannot be used (read-only buffer for a read). */
        BAD_BUFFER,
        /** No in-sync leg could serve the request: the data is not available or not durable. */
        IO_ERROR,
        /** A write hit a range another node is resyncing and the bounded wait ran out. */
        TIMEOUT,
        /** The array was fenced (it stopped itself, see {@link FenceReason}); no I/O is accepted. */
        FENCED,
        /** The array is read-only (array_state readonly): writes are refused. */
        READ_ONLY,
        /** The array is closed, or not started. */
        CLOSED,
        /** The operation conflicts with the array's current state (md's EBUSY). */
        BUSY,
        /** The named leg is not a member of the array. */
        NO_SUCH_DEVICE,
        /** Bad arguments to an administrative operation (md's EINVAL). */
        INVALID,
        /** The legs given cannot be assembled into an array (no superblock, no fresh leg, ...). */
        ASSEMBLY,
        /** A leg's metadata could not be read or written. */
        METADATA,
        /** The cluster refused or timed out an operation (lock not granted, message not acked). */
        CLUSTER
    }

    private final Code code;

    public Raid1Exception(Code code, String message) {
        this(code, message, null);
    }

    public Raid1Exception(Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code, "code");
    }

    /** The kind of failure. */
    public Code code() {
        return code;
    }
}
