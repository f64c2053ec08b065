package org.clustermd.cluster.nbd;

/**
 * The error values of an NBD simple reply (the spec's restricted errno set, with Linux's
 * numbers).
 *
 * <p>Immutable; thread-safe.
 */
public enum NbdError {
    /** A write or trim on a read-only export. */
    EPERM(1),
    /** The data could not be read or made durable. */
    EIO(5),
    ENOMEM(12),
    /** Unknown command or flag, misaligned request, read or trim beyond the end, bad length. */
    EINVAL(22),
    /** A write beyond the end of the export. */
    ENOSPC(28),
    EOVERFLOW(75),
    ENOTSUP(95),
    /** The server (or the array behind it) is shutting down. */
    ESHUTDOWN(108);

    private final int code;

    NbdError(int code) {
        this.code = code;
    }

    /** The number sent on the wire. */
    public int code() {
        return code;
    }
}
