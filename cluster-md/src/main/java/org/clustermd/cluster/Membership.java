package org.clustermd.cluster;

import java.util.Set;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link ClusterCoordinator}'s membership: the one {@link MembershipState} field, the one
 * method that moves it, and what follows from it, whether read balancing is suspended
 * (md's SUSPEND_READ_BALANCING: RECOVERING, or a dead slot not yet merged into our bitmap).
 * The data path reads that answer from one volatile field.
 *
 * <p>Thread-safe: the state is guarded by this object's monitor; listeners are called after it
 * is released.
 */
final class Membership {
    private static final Logger log = LoggerFactory.getLogger(Membership.class);
    /** The states of a member that may start leaving. */
    static final Set<MembershipState> MEMBER =
            Set.of(MembershipState.JOINING, MembershipState.ACTIVE, MembershipState.RECOVERING);
    /** Every state but the final one. */
    static final Set<MembershipState> NOT_LEFT = Set.of(
            MembershipState.JOINING, MembershipState.ACTIVE, MembershipState.RECOVERING, MembershipState.LEAVING);

    private final String arrayName;
    private final ClusterListener listener;
    private final BooleanSupplier recoveryPending;
    /** Guarded by this. */
    private MembershipState state = MembershipState.JOINING;
    /** Guarded by this: a recovery episode began while we were still joining. */
    private boolean episodeWhileJoining;

    private volatile boolean readBalancingSuspended;

    /** @param recoveryPending whether a dead slot is still to be merged (read without any lock of ours) */
    Membership(String arrayName, ClusterListener listener, BooleanSupplier recoveryPending) {
        this.arrayName = arrayName;
        this.listener = listener;
        this.recoveryPending = recoveryPending;
    }

    synchronized MembershipState state() {
        return state;
    }

    /**
     * The one place the membership moves: from any of {@code from} to {@code to}. Returns false,
     * changing nothing, when the state is not one of {@code from}; an illegal step is a bug and
     * throws.
     */
    boolean transition(Set<MembershipState> from, MembershipState to) {
        MembershipState was;
        synchronized (this) {
            was = state;
            if (was == to || !from.contains(was)) return false;
            if (!was.canBecome(to)) throw new IllegalStateException("membership " + was + " -> " + to);
            state = to;
        }
        announce(was, to);
        return true;
    }

    /** The end of join: ACTIVE, or RECOVERING when a membership change began meanwhile; false if no longer joining. */
    boolean joined() {
        MembershipState to;
        synchronized (this) {
            if (state != MembershipState.JOINING) return false;
            to = episodeWhileJoining ? MembershipState.RECOVERING : MembershipState.ACTIVE;
            state = to;
        }
        announce(MembershipState.JOINING, to);
        return true;
    }

    /** recover_prep. */
    void recoveryStarted() {
        synchronized (this) {
            if (state == MembershipState.JOINING) episodeWhileJoining = true;
        }
        transition(Set.of(MembershipState.ACTIVE), MembershipState.RECOVERING);
    }

    /**
     * recover_done. Returns false for the one that only reports our own join (no recover_prep
     * came before it), which is not worth telling anyone.
     */
    boolean recoveryFinished() {
        boolean episode;
        synchronized (this) {
            episode = state != MembershipState.JOINING || episodeWhileJoining;
            episodeWhileJoining = false;
        }
        transition(Set.of(MembershipState.RECOVERING), MembershipState.ACTIVE);
        return episode;
    }

    /** The set of dead slots to merge changed. */
    void recoveryPendingChanged() {
        update();
    }

    boolean readBalancingSuspended() {
        return readBalancingSuspended;
    }

    private void announce(MembershipState was, MembershipState to) {
        update();
        log.info("{}: membership {} -> {}", arrayName, was, to);
        listener.membershipChanged(was, to);
    }

    private void update() {
        boolean pending = recoveryPending.getAsBoolean();
        synchronized (this) {
            readBalancingSuspended = state == MembershipState.RECOVERING || (pending && state != MembershipState.LEFT);
        }
    }
}
