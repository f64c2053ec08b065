package org.clustermd.raid1;

/**
 * Told about an array's state changes. Calls come one at a time, in order, on the array's
 * {@code md-events-<array>} thread, never while an engine lock is held; a listener must not
 * block for long (a slow listener delays the next notification, never the array).
 *
 * <p>Implementations must be thread-safe with respect to their own other users.
 */
public interface ArrayListener {

    /** An attribute changed (see {@link AttributeChange} for the names). */
    default void attributeChanged(AttributeChange change) {}

    /** The array fenced itself; every request fails from now on. */
    default void fenced(FenceReason reason, Throwable cause) {}
}
