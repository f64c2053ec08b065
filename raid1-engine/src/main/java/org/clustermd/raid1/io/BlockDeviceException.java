package org.clustermd.raid1.io;

import java.io.IOException;
import java.util.Objects;

/**
 * A storage error on one block device (one leg), with a {@link Code} that says what kind of
 * failure it is, so the engine can tell "this leg is broken" ({@link Code#IO_ERROR}) from "the
 * caller asked for something impossible" ({@link Code#UNALIGNED}, {@link Code#OUT_OF_RANGE}).
 *
 * <p>The message always names the device, as md's kernel messages name the rdev.
 *
 * <p>Immutable and therefore thread-safe.
 */
public final class BlockDeviceException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Code {
        /** The device could not be opened (missing, permission, O_DIRECT refused). */
        OPEN_FAILED,
        /** The device is smaller than the caller requires. */
        DEVICE_TOO_SMALL,
        /** Offset, length or buffer address is not a multiple of the logical block size. */
        UNALIGNED,
        /** The request reaches past the end of the device or has a negative offset. */
        OUT_OF_RANGE,
        /** The buffer cannot be used for this I/O (heap buffer, read-only buffer for a read). */
        BAD_BUFFER,
        /** A write or flush on a device opened read-only. */
        READ_ONLY,
        /** The device returned an error (EIO and friends, short transfer): the leg is suspect. */
        IO_ERROR,
        /** The device was closed before or while the request ran. */
        CLOSED,
        /**
         * The write was never handed to the device: the node's write lease ran out and the
         * array fenced itself (says nothing about the device).
         */
        NOT_ISSUED
    }

    private final Code code;
    private final String device;
    private final int errno;

    public BlockDeviceException(Code code, String device, String message) {
        this(code, device, 0, message, null);
    }

    public BlockDeviceException(Code code, String device, int errno, String message, Throwable cause) {
        super(device + ": " + message, cause);
        this.code = Objects.requireNonNull(code, "code");
        this.device = Objects.requireNonNull(device, "device");
        this.errno = errno;
    }

    /** The kind of failure. */
    public Code code() {
        return code;
    }

    /** The name of the device (its path) the failure happened on. */
    public String device() {
        return device;
    }

    /** The errno the kernel returned, or 0 when the error was detected in Java. */
    public int errno() {
        return errno;
    }
}
