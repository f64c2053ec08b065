package org.clustermd.dlm;

import java.util.Objects;

/**
 * One conversion of a joint request ({@link LockSpace#convertJointly}): {@code lock} to
 * {@code mode}, which must be granted at once ({@link #now}) or may wait in the queue
 * ({@link #queued}).
 *
 * @param lock a lock of the lockspace the joint request goes to
 * @param mode the mode wanted
 * @param mayQueue false: if this conversion cannot be granted at once, the whole joint request
 *     writes nothing and fails with {@link DlmException.Code#NOT_GRANTED}
 */
public record Conversion(LockResource lock, LockMode mode, boolean mayQueue) {
    public Conversion {
        Objects.requireNonNull(lock, "lock");
        Objects.requireNonNull(mode, "mode");
    }

    /** {@code lock} to {@code mode}, granted at once or not at all. A down-conversion always is. */
    public static Conversion now(LockResource lock, LockMode mode) {
        return new Conversion(lock, mode, false);
    }

    /** {@code lock} to {@code mode}, queued if it cannot be granted at once. */
    public static Conversion queued(LockResource lock, LockMode mode) {
        return new Conversion(lock, mode, true);
    }
}
