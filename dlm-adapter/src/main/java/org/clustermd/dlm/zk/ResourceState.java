package org.clustermd.dlm.zk;

import java.util.ArrayList;
import java.util.List;

/**
 * A resource as one lockspace sees it: the replica of its lock table and this node's handles on
 * it, plus whether a resource-level write (an elected grant pass or a purge) is in flight.
 *
 * <p>Not thread-safe: guarded by the owning lockspace's lock.
 */
final class ResourceState {
    final String name;
    final String path;
    final String versionPath;
    final ResourceView view;
    final List<ZkLockResource> handles = new ArrayList<>();
    boolean systemWriteInFlight;
    /** Set after a reconnect until a fresh read replaced the view. */
    boolean stale;

    ResourceState(String name, String path, String versionPath, ResourceView view) {
        this.name = name;
        this.path = path;
        this.versionPath = versionPath;
        this.view = view;
    }
}
