package org.clustermd.dlm.server;

/**
 * The state of one server process of a {@link ZooKeeperProcessEnsemble}, as far as the
 * ensemble made it so: never launched, running, frozen by SIGSTOP, or dead (killed, or exited
 * by itself: the ensemble notices that when it looks). The owner calls {@link #on(Signal)} for
 * every signal it sends.
 *
 * <p>Enum constants are immutable; the field holding the current one is guarded by its owner.
 */
enum ProcessState {
    NOT_STARTED,
    RUNNING,
    FROZEN,
    DEAD;

    /** What the ensemble does to a process. */
    enum Signal {
        LAUNCH,
        SIGSTOP,
        SIGCONT,
        SIGKILL
    }

    /** The state after {@code signal}; throws if the signal makes no sense in this state. */
    ProcessState on(Signal signal) {
        ProcessState next = switch (signal) {
            case LAUNCH -> this == NOT_STARTED || this == DEAD ? RUNNING : null;
            case SIGSTOP -> this == RUNNING || this == FROZEN ? FROZEN : null;
            case SIGCONT -> this == FROZEN || this == RUNNING ? RUNNING : null;
            case SIGKILL -> DEAD;
        };
        if (next == null) {
            throw new IllegalStateException(
                    "server process is " + name().toLowerCase().replace('_', ' ') + ": cannot " + signal);
        }
        return next;
    }
}
