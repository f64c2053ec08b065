package org.clustermd.dlm.server;

/**
 * The life of one in-process server (standalone, or one member of an in-process ensemble):
 * stopped (its data kept on disk), running, or closed for good. The owner calls
 * {@link #to(ServerLifecycle)} for every change; it refuses the changes that make no sense.
 *
 * <p>Enum constants are immutable; the field holding the current one is guarded by its owner.
 */
enum ServerLifecycle {
    STOPPED,
    RUNNING,
    CLOSED;

    /** Returns {@code target} if this state may change to it, else throws. */
    ServerLifecycle to(ServerLifecycle target) {
        boolean legal = switch (this) {
            case STOPPED -> target == RUNNING || target == CLOSED;
            case RUNNING -> target == STOPPED || target == CLOSED;
            case CLOSED -> false;
        };
        if (!legal) {
            throw new IllegalStateException("server is " + name().toLowerCase() + ", cannot become "
                    + target.name().toLowerCase());
        }
        return target;
    }
}
