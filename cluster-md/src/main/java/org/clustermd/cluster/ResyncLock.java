package org.clustermd.cluster;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.raid1.Raid1Exception;

/**
 * The cluster-wide {@code resync} lock of a {@link ClusterCoordinator}: created at NL at join,
 * taken in EX by the sync thread before it resyncs and given back to NL after the final
 * superblock update, so that one node at a time resyncs the array.
 *
 * <p>Thread-safety: the resource is volatile because it is set at join and used from other
 * threads (the sync thread takes it, the {@code md-<array>} thread gives it back while reaping
 * the sync thread), and the lock manager's resource is itself thread-safe.
 */
final class ResyncLock {
    private final ClusterCoordinator owner;
    private volatile LockResource resyncLock;

    ResyncLock(ClusterCoordinator owner) {
        this.owner = owner;
    }

    /** At join, before it is converted to NL. */
    void attach(LockResource r) {
        resyncLock = r;
    }

    /**
     * See {@link ClusterCoordinator#resyncStart}: an interrupted wait cancels the request, or gives
     * the lock back if it was granted meanwhile, so that no other node waits for a lock nobody uses.
     */
    void take() throws Raid1Exception, InterruptedException {
        LockResource r = resyncLock;
        CompletableFuture<LockGrant> grant = r.convertAsync(LockMode.EX);
        try {
            grant.get();
        } catch (InterruptedException e) {
            try {
                if (!r.cancel() && r.grantedMode().orElse(LockMode.NL) == LockMode.EX) r.convert(LockMode.NL);
            } catch (DlmException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        } catch (ExecutionException e) {
            throw owner.cluster("taking the resync lock failed: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /** See {@link ClusterCoordinator#resyncFinish}; nothing to release before join. */
    void release() throws Raid1Exception {
        LockResource r = resyncLock;
        if (r == null) return;
        try {
            r.convert(LockMode.NL);
        } catch (DlmException e) {
            throw owner.cluster("releasing the resync lock failed: " + e.getMessage(), e);
        }
    }
}
