package org.clustermd.cluster;

import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's MD_CLUSTER_WAITING_FOR_SYNC: set when this node confirmed a peer's NEWDISK, cleared when
 * a sync pass starts somewhere (RESYNCING_START), one ends (RESYNCING(0, 0)), the add is
 * cancelled or its adder dies or leaves. While it is set the engine activates no spare
 * ({@code ClusterOperations.waitingForSync}), so the new leg is recovered by the adder's pass
 * and not first by a peer that activated it on its own (docs/lessons.md §14,
 * docs/md-cluster-protocol.md §e.8). When it clears, activation is checked again: the superblock
 * is re-read (the adder's gives the leg its role) and the md thread woken. Owns the flag and the
 * slot whose NEWDISK set it.
 *
 * <p>Thread-safety: set and cleared on the receive thread; {@link #slotDied} and {@link #slotLeft}
 * on the lockspace's callback thread, where it never blocks (no re-read there, the md thread activates); read from
 * any thread. The slot is one volatile int: -1 when not waiting.
 */
final class WaitingForSync {
    /** The coordinator's category: these lines are about the same array and node. */
    private static final Logger log = LoggerFactory.getLogger(ClusterCoordinator.class);

    private static final int NONE = -1;

    private final Mddev array;
    private volatile int adder = NONE;

    WaitingForSync(Mddev array) {
        this.array = array;
    }

    boolean waiting() {
        return adder != NONE;
    }

    /** This node confirmed the NEWDISK {@code slot} sent (md's process_add_new_disk). */
    void newDiskConfirmed(int slot) {
        adder = slot;
    }

    /**
     * RESYNCING_START or RESYNCING(0, 0) from {@code slot}, or the add's cancel: stop waiting and
     * check activation again now. Receive thread only.
     */
    void syncStarted(int slot, String what) {
        if (!clear()) return;
        log.info("{}: {} from slot {}: spares may be activated again", array.name(), what, slot);
        try {
            array.reloadSuperblock();
        } catch (Raid1Exception e) {
            log.warn("{}: re-reading the superblock after {} failed: {}", array.name(), what, e.getMessage());
        }
        array.requestRecovery();
    }

    /** The add was cancelled: nothing to wait for. */
    void addCancelled() {
        if (clear()) log.info("{}: the add was cancelled: spares may be activated again", array.name());
    }

    /** md's recover_slot: an adder that died starts no sync; the md thread activates what it must. */
    void slotDied(int slot) {
        slotGone(slot, "died");
    }

    /**
     * The adder left gracefully: it starts no sync either. A pure spare's add starts none at
     * all, and without this the flag stayed set until some other node's pass.
     */
    void slotLeft(int slot) {
        slotGone(slot, "left");
    }

    private void slotGone(int slot, String how) {
        if (adder != slot || !clear()) return;
        log.info("{}: slot {} {} before its sync started: spares may be activated again", array.name(), slot, how);
        array.requestRecovery();
    }

    private synchronized boolean clear() {
        if (adder == NONE) return false;
        adder = NONE;
        return true;
    }
}
