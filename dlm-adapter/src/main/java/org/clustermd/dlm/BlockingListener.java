package org.clustermd.dlm;

/**
 * The blocking callback (the DLM's bast): told when a request that the holder's granted mode
 * blocks has been queued on the resource, with the mode that request asks for.
 *
 * <p>Called on the lockspace's single callback thread, in order with every other callback of
 * the lockspace. It must return quickly and must not call blocking methods of the lockspace
 * (md-cluster's ack_bast only wakes its receive thread).
 */
@FunctionalInterface
public interface BlockingListener {
    /**
     * @param resource the lock whose granted mode blocks the request
     * @param requested the mode the blocked request asks for
     */
    void onBlocking(LockResource resource, LockMode requested);
}
