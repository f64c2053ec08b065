package org.clustermd.dlm;

/**
 * The lock manager's one checked exception; {@link #code()} says what went wrong.
 */
public final class DlmException extends Exception {
    private static final long serialVersionUID = 1L;

    /** Why a lock manager operation failed. */
    public enum Code {
        /** NOQUEUE: the request could not be granted at once (the DLM's -EAGAIN). */
        NOT_GRANTED,
        /** The waiting request was cancelled. */
        CANCELLED,
        /** The request waited longer than its timeout and was cancelled. */
        TIMEOUT,
        /** The conversion would deadlock with another conversion (-EDEADLK); it was cancelled. */
        CONVERSION_DEADLOCK,
        /** A request is already pending on this lock, or the mode change is not allowed. */
        INVALID_REQUEST,
        /**
         * The session is suspended: the outcome is unknown until it reconnects or is lost. Also a
         * grant whose delivery came after SUSPENDED was reported: it must not be used (the lock
         * may still be held; the handle's granted mode tells once the lockspace is ACTIVE again).
         */
        SUSPENDED,
        /** The session is lost; the lockspace is no longer usable. */
        LOCKSPACE_LOST,
        /** The lockspace or lock manager was closed. */
        CLOSED,
        /** Every slot of the lockspace is taken (md's -ERANGE on join). */
        SLOTS_EXHAUSTED,
        /** A member with this node's name is already in the lockspace (a node name is an identity). */
        NODE_NAME_IN_USE,
        /** The lock manager's state is not what this implementation wrote (foreign or corrupt). */
        CORRUPT_STATE,
        /** What was asked for does not exist: a cluster that no member ever joined. */
        NOT_FOUND,
        /** The lock manager refused access: wrong or missing credentials. */
        NO_AUTH,
        /** The lock manager could not be reached or failed the operation. */
        UNAVAILABLE,
        /** The calling thread was interrupted; the interrupt flag is set again. */
        INTERRUPTED
    }

    private final Code code;

    public DlmException(Code code, String message) {
        super(code + ": " + message);
        this.code = code;
    }

    public DlmException(Code code, String message, Throwable cause) {
        super(code + ": " + message, cause);
        this.code = code;
    }

    public Code code() {
        return code;
    }
}
