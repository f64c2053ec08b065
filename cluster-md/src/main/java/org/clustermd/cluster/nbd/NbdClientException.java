package org.clustermd.cluster.nbd;

import java.io.IOException;

/**
 * Why an {@link NbdClient} connection or request failed; {@link #code()} says which way, and
 * {@link #error()} carries the server's error value when it sent one.
 */
public final class NbdClientException extends IOException {
    private static final long serialVersionUID = 1L;

    /** The ways a client request fails. */
    public enum Code {
        /** The server could not be reached. */
        UNREACHABLE,
        /** The handshake failed: not an NBD server, or it refused the export. */
        REFUSED,
        /** The server answered the request with an error value ({@link #error()}). */
        ERROR_REPLY,
        /** The connection ended (the server went away, or the client was closed) before the reply came. */
        DISCONNECTED,
        /** The server sent something the protocol does not allow. */
        PROTOCOL
    }

    private final Code code;
    private final transient NbdError error;

    public NbdClientException(Code code, String message) {
        this(code, null, message, null);
    }

    public NbdClientException(Code code, String message, Throwable cause) {
        this(code, null, message, cause);
    }

    NbdClientException(Code code, NbdError error, String message, Throwable cause) {
        super(code + ": " + message, cause);
        this.code = code;
        this.error = error;
    }

    public Code code() {
        return code;
    }

    /** The server's error value of an {@link Code#ERROR_REPLY}, or null (also for a value outside the spec's set). */
    public NbdError error() {
        return error;
    }
}
