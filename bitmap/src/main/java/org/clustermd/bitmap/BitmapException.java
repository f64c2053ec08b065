package org.clustermd.bitmap;

import java.io.IOException;
import java.util.Objects;
import java.util.Optional;

/**
 * The one checked exception of the bitmap module. It is an {@link IOException} because every
 * failure here is a storage failure in the wide sense: the bitmap could not be read, was not
 * what md would have written, or could not be made durable.
 *
 * <p>The {@link #code()} says what kind of failure it is; for {@link Code#FORMAT} errors
 * {@link #field()} names the {@code bitmap_super_t} field that was wrong. Messages always name
 * the storage and the slot.
 *
 * <p>Immutable and thread-safe.
 */
public final class BitmapException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What went wrong. */
    public enum Code {
        /** The on-disk bytes are not a valid md bitmap; {@link #field()} names the field. */
        FORMAT,
        /** The storage failed a read, write or flush (the cause is the storage's exception). */
        STORAGE,
        /** A slot number outside {@code [0, nodes)} (or {@code 0} for an unclustered bitmap). */
        SLOT_RANGE,
        /** The bitmap does not fit its area, or a resize would need a layout this call cannot make. */
        GEOMETRY,
        /** The operation needs a quiet bitmap (no writes or resync in flight) and it was not. */
        BUSY,
        /** The bitmap was closed, or fenced (the message says which). */
        CLOSED
    }

    /** The {@code bitmap_super_t} fields, named as md names them. */
    public enum Field {
        MAGIC("magic"),
        VERSION("version"),
        UUID("uuid"),
        EVENTS("events"),
        EVENTS_CLEARED("events_cleared"),
        SYNC_SIZE("sync_size"),
        STATE("state"),
        CHUNKSIZE("chunksize"),
        DAEMON_SLEEP("daemon_sleep"),
        WRITE_BEHIND("write_behind"),
        SECTORS_RESERVED("sectors_reserved"),
        NODES("nodes"),
        CLUSTER_NAME("cluster_name");

        private final String mdName;

        Field(String mdName) {
            this.mdName = mdName;
        }

        /** The field's name in md's {@code bitmap_super_t}. */
        public String mdName() {
            return mdName;
        }
    }

    private final Code code;
    private final Field field;

    public BitmapException(Code code, String message) {
        this(code, null, message, null);
    }

    public BitmapException(Code code, String message, Throwable cause) {
        this(code, null, message, cause);
    }

    /** A {@link Code#FORMAT} error naming the offending field. */
    public static BitmapException format(Field field, String message) {
        return new BitmapException(Code.FORMAT, field, message, null);
    }

    private BitmapException(Code code, Field field, String message, Throwable cause) {
        super(message, cause);
        this.code = Objects.requireNonNull(code);
        this.field = field;
    }

    public Code code() {
        return code;
    }

    /** The superblock field at fault, for {@link Code#FORMAT} errors about one field. */
    public Optional<Field> field() {
        return Optional.ofNullable(field);
    }
}
