package org.clustermd.dlm.server;

import java.io.IOException;

/**
 * A ZooKeeper server owned by this package could not be started, reached or stopped; the
 * {@link Code} says which step failed and the message names the server, port or directory.
 *
 * <p>Immutable, so safe to share between threads.
 */
public final class EmbeddedServerException extends IOException {
    private static final long serialVersionUID = 1L;

    /** What failed. */
    public enum Code {
        /** The data or transaction-log directory could not be created, read or written. */
        DATA_DIR,
        /** The client, quorum or election port could not be bound. */
        BIND,
        /** The server failed while starting (configuration rejected, internal error). */
        START,
        /** The server or ensemble did not serve a write within the bounded wait. */
        NOT_SERVING,
        /** A server process could not be launched or signalled. */
        PROCESS,
        /** The calling thread was interrupted while waiting; the interrupt flag is set again. */
        INTERRUPTED
    }

    private final Code code;

    public EmbeddedServerException(Code code, String message) {
        super(message);
        this.code = code;
    }

    public EmbeddedServerException(Code code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public Code code() {
        return code;
    }

    @Override
    public String getMessage() {
        return code + ": " + super.getMessage();
    }
}
