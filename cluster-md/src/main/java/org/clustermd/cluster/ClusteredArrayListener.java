package org.clustermd.cluster;

import org.clustermd.raid1.ArrayListener;

/**
 * The one listener of a {@link ClusteredArray}: the array's state changes ({@link ArrayListener},
 * on the array's {@code md-events} thread) and the cluster's membership and recovery events
 * ({@link ClusterListener}, on the coordinator's threads). Every method has an empty default, so
 * an embedder overrides only what it needs. A standalone array reports no cluster events.
 *
 * <p>Implementations must be thread-safe and return quickly (see both parents).
 */
public interface ClusteredArrayListener extends ArrayListener, ClusterListener {}
