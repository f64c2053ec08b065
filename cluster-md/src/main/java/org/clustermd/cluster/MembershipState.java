package org.clustermd.cluster;

/**
 * A node's membership of an array's cluster, owned by its {@link ClusterCoordinator} (one field
 * and one transition method, in the coordinator's {@code Membership}). It replaces md-cluster's {@code BEGIN_JOIN_CLUSTER},
 * {@code ALREADY_IN_CLUSTER} and {@code SUSPEND_READ_BALANCING} bits.
 *
 * <pre>
 *   JOINING --(own bitmap lock PW, resync NL)--> ACTIVE <--(recover_done)-- RECOVERING
 *      |                                            |  --(recover_prep)-->      |
 *      |                                            v                          v
 *      +----(join failed, session lost)------> LEFT <--- LEAVING <--(leave)----+
 * </pre>
 *
 * A membership change that begins while the node is still joining moves it from JOINING
 * straight to RECOVERING once the join is complete. Losing the session moves any state but
 * LEFT to LEFT at once (the array is fenced).
 *
 * <p>Immutable; thread-safe.
 */
public enum MembershipState {
    /** Joining the lockspace and taking this node's bitmap lock; the array is not serving yet. */
    JOINING,
    /** A member holding its bitmap lock in PW; reads are balanced over the legs. */
    ACTIVE,
    /**
     * Between recover_prep and recover_done: membership is changing and a dead node's writes may
     * have reached one leg but not the other, so reads go to the first in-sync leg only
     * (md's SUSPEND_READ_BALANCING, docs/lessons.md §3). Writes go on: they are covered by this node's bitmap.
     */
    RECOVERING,
    /** Leaving gracefully: the recovery thread is stopping and the locks are being released. */
    LEAVING,
    /** Not a member (left, never joined, or the session was lost). Final. */
    LEFT;

    /** Whether {@code to} may follow this state. */
    boolean canBecome(MembershipState to) {
        return switch (this) {
            case JOINING -> to == ACTIVE || to == RECOVERING || to == LEAVING || to == LEFT;
            case ACTIVE -> to == RECOVERING || to == LEAVING || to == LEFT;
            case RECOVERING -> to == ACTIVE || to == LEAVING || to == LEFT;
            case LEAVING -> to == LEFT;
            case LEFT -> false;
        };
    }
}
