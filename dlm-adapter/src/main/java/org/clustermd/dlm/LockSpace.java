package org.clustermd.dlm;

import java.util.Set;

/**
 * A lockspace (the kernel's {@code dlm_lockspace_t}): a namespace of lock resources shared by a
 * set of members, each holding a stable slot. md-cluster creates one per array, named by the
 * array UUID.
 *
 * <p>Joining makes this node a member with a slot below {@link #slotCount()}; membership changes
 * are reported to the {@link LockSpaceListener} given at join. {@link #close()} leaves
 * gracefully: this node's locks are released and the other members see a departure (recovery
 * callbacks without {@code memberLost}).
 *
 * <p>Thread-safe.
 */
public interface LockSpace extends AutoCloseable {

    /** The lockspace name. */
    String name();

    /** This node's slot. */
    NodeSlot slot();

    /** How many slots the lockspace has (md-cluster: the bitmap's {@code nodes}). */
    int slotCount();

    /** The slots of the live members as this node last saw them, including its own. */
    Set<NodeSlot> members();

    /** The session health; see {@link LockSpaceState}. */
    LockSpaceState state();

    /**
     * A new lock handle on the named resource; no lock is held until the first
     * {@link LockResource#convert}. Resource names are 1 to 128 characters of
     * {@code [A-Za-z0-9._-]}.
     */
    LockResource resource(String name) throws DlmException;

    /** As {@link #resource(String)}, with a blocking callback (bast) for this lock. */
    LockResource resource(String name, BlockingListener blockingListener) throws DlmException;

    /**
     * Leaves the lockspace: releases every lock of this node (without writing LVBs, like the
     * DLM's force-unlock), fails pending requests with {@code CLOSED}, and removes the membership.
     */
    @Override
    void close() throws DlmException;
}
