package org.clustermd.raid1;

import java.util.Set;
import java.util.UUID;
import org.clustermd.bitmap.WriteIntentBitmap;

/**
 * md's {@code struct md_cluster_operations}: everything the raid1 engine asks of the cluster.
 * The engine knows nothing of a DLM; cluster-md implements this interface with a lock space,
 * and {@link StandaloneClusterOperations} implements it for a single node.
 *
 * <h2>Who calls what, on which thread</h2>
 * <table>
 *   <caption>Calls and their threads</caption>
 *   <tr><th>method</th><th>thread</th><th>may block?</th></tr>
 *   <tr><td>{@link #join}, {@link #loadBitmaps}</td><td>the thread assembling the array, once,
 *       in that order</td><td>yes, bounded (a lock-manager wait is bounded by 30 s in md)</td></tr>
 *   <tr><td>{@link #leave}</td><td>the thread closing the array, once, after the sync thread and
 *       the md thread stopped</td><td>yes, bounded</td></tr>
 *   <tr><td>{@link #areaResyncing}</td><td>any I/O submitting thread and the
 *       {@code raid1d-<array>} thread, on every request</td><td><b>never</b>: a lookup in local
 *       state; no lock-manager call, no I/O, no lock held by a thread that blocks</td></tr>
 *   <tr><td>{@link #resyncStart}, {@link #resyncStartNotify}, {@link #resyncInfoUpdate}</td>
 *       <td>{@code resync-<array>}</td><td>resyncStart: until granted, but interruptible (the
 *       engine interrupts the sync thread to stop it); the others bounded</td></tr>
 *   <tr><td>{@link #resyncFinish}</td><td>{@code md-<array>} while reaping the sync thread, after
 *       the final superblock update</td><td>bounded</td></tr>
 *   <tr><td>{@link #metadataUpdateStart}, {@link #metadataUpdateFinish},
 *       {@link #metadataUpdateCancel}</td><td>{@code md-<array>}, the only writer of
 *       superblocks; start is always followed by exactly one finish or cancel</td><td>bounded</td></tr>
 *   <tr><td>{@link #addNewDisk}, {@link #addNewDiskCancel},
 *       {@link #removeDisk}, {@link #gatherBitmaps}</td><td>the administrator's thread (an
 *       embedding API or JMX call)</td><td>bounded</td></tr>
 *   <tr><td>{@link #slotNumber}, {@link #isClustered}, {@link #resyncingRemote},
 *       {@link #waitingForSync}</td><td>any</td>
 *       <td>never</td></tr>
 *   <tr><td>{@link #writeLease} and its {@link WriteLease#valid}</td><td>any thread issuing a leg
 *       write, immediately before it; the {@code lease-hold-<array>} thread</td><td><b>never</b>
 *       (only {@link WriteLease#awaitValid}, bounded, on the hold thread)</td></tr>
 * </table>
 *
 * <h2>Rules both sides keep (docs/lessons.md §9, docs/lessons.md §25, docs/lessons.md §27)</h2>
 * <ul>
 *   <li>The engine never holds a lock that an {@link Mddev} callback needs while it calls a
 *       method here that may block; {@link Mddev} callbacks take only short, I/O-free engine
 *       locks, so a receive thread can always make progress while a local thread waits for a
 *       cluster lock.</li>
 *   <li>Every wait here is bounded except {@link #resyncStart}, which is interruptible. A bound
 *       that runs out is a {@link Raid1Exception} with {@link Raid1Exception.Code#CLUSTER}, never
 *       a silent success.</li>
 *   <li>The data path calls nothing here but {@link #areaResyncing} and the
 *       {@link #writeLease}'s {@link WriteLease#valid}.</li>
 *   <li>Implementations must not call back into the engine from inside these methods except
 *       through the {@link Mddev} given to {@link #join}, and then only with the callbacks that
 *       say they may be called from anywhere.</li>
 * </ul>
 *
 * <p>Sectors are 512 bytes, ranges half-open {@code [lo, hi)} in array sectors; device numbers
 * are {@code desc_nr}, the index into the superblock's {@code dev_roles}.
 *
 * <p>Implementations are thread-safe.
 */
public interface ClusterOperations {

    /** The direction argument of md's {@code area_resyncing}. */
    enum Direction {
        READ,
        WRITE
    }

    /** True when other nodes may share the array (md: {@code mddev_is_clustered}). */
    boolean isClustered();

    /**
     * md's {@code join}: enter the array's cluster and get a slot. Called once, before the
     * bitmap is opened, with the array's callbacks.
     *
     * @param array the array's side of the contract, valid until {@link #leave}
     * @param nodes the number of bitmap slots ({@code nodes} of the bitmap superblock; 1 for an
     *     array without a clustered bitmap)
     * @throws Raid1Exception CLUSTER if the cluster cannot be joined or every slot is taken
     */
    void join(Mddev array, int nodes) throws Raid1Exception;

    /**
     * The lease every leg write of this node is checked against, immediately before it is issued
     * (never valid before {@link #join} in a cluster; always valid for a node alone). The same
     * object for the life of this instance; its checks never block.
     */
    WriteLease writeLease();

    /** This node's bitmap slot, {@code 0 <= slot < nodes}; valid after {@link #join}. */
    int slotNumber();

    /**
     * The bitmap slots of the other live members, as this node last saw them: each writes its
     * own slot, so a leg this node admits gets every slot copied but these (docs/lessons.md §44).
     * Empty for a node alone.
     */
    default Set<Integer> peerSlots() {
        return Set.of();
    }

    /**
     * md's {@code load_bitmaps}: the array's bitmap exists now. Gather what other slots say (a
     * live node's resync window; a free slot's dirty bits merged into {@code bitmap}, lowering
     * the array's resync point through {@link Mddev#lowerRecoveryCp}) and start handling
     * messages. {@code bitmap} is null for an array without one.
     */
    void loadBitmaps(WriteIntentBitmap bitmap) throws Raid1Exception;

    /**
     * The first half of md's {@code leave}, called while the bitmap is still open: stop receiving
     * messages and recovering other slots (nothing the cluster does touches the bitmap after
     * this), and when {@code arrayInSync} is false hand this node's unfinished resync over
     * (BITMAP_NEEDS_SYNC: a peer takes our bitmap slot over once {@link #leave} released our
     * bitmap lock). The engine then closes the bitmap and calls {@link #leave}. Never throws;
     * idempotent; {@link #leave} does it first if it was not called.
     */
    default void handOver(boolean arrayInSync) {}

    /**
     * md's {@code leave}. {@code arrayInSync} false means this node stops with resync work left
     * (md then sends BITMAP_NEEDS_SYNC so another node takes it over, {@link #handOver}). Never
     * throws; failures are logged. Idempotent.
     */
    void leave(boolean arrayInSync);

    // ------------------------------------------------------------------ resync

    /**
     * md's {@code resync_start}: takes the cluster-wide resync lock; only one node resyncs or
     * recovers at a time. Blocks until granted.
     *
     * @throws InterruptedException if the sync thread is interrupted (stopped) while waiting;
     *     nothing is held then
     * @throws Raid1Exception CLUSTER if the lock cannot be taken at all
     */
    void resyncStart() throws Raid1Exception, InterruptedException;

    /**
     * md's {@code resync_start_notify}: this node holds the resync lock and starts a pass; peers
     * that hold a new spare back until its adder's sync starts activate it now (RESYNCING_START,
     * docs/md-cluster-protocol.md §e.8).
     */
    void resyncStartNotify() throws Raid1Exception;

    /**
     * md's {@code resync_status_get} (MD_CLUSTER_WAITING_FOR_SYNC): a peer announced a new device
     * (NEWDISK) and has not started a sync pass since. While true the engine activates no spare:
     * neither one a peer's superblock gives a role nor one its md thread would pick, so the adder's
     * pass is the one that recovers it (docs/lessons.md §14). Never blocks. False for a node alone.
     */
    default boolean waitingForSync() {
        return false;
    }

    /**
     * md's {@code resync_info_update}: this node is about to resync {@code [lo, hi)}; returns
     * once every peer has stopped writing there (peers answer {@code areaResyncing(WRITE)} true
     * for it). {@code (0, 0)} means "no window". The engine calls it before it issues any resync
     * I/O in the new window.
     */
    void resyncInfoUpdate(long lo, long hi) throws Raid1Exception;

    /**
     * md's {@code resync_finish}: the sync pass is over and its final superblock update is
     * written. Unless {@code closing}, tells the peers (RESYNCING(0,0)); releases the resync lock
     * in every case.
     */
    void resyncFinish(boolean closing) throws Raid1Exception;

    /** md's {@code resync_status_get}: another node is resyncing this array now. */
    boolean resyncingRemote();

    /**
     * Whether another node did foreground I/O on this array in the last few seconds (md has no
     * such thing: its idle check sees only this host's I/O). While true a sync pass here keeps to
     * sync_speed_min. Called by the sync thread only; may make one lock-manager call, at most a
     * few times a second, and answers false when it cannot tell. False for a node alone.
     */
    default boolean peersBusy() {
        return false;
    }

    // ------------------------------------------------------------------ the data path

    /**
     * md's {@code area_resyncing}: for WRITE, whether {@code [lo, hi)} overlaps the window a
     * peer is resyncing (the write must wait); for READ, also true for every range while read
     * balancing is suspended during a node failure (the read must go to the first in-sync leg).
     * Must not block.
     */
    boolean areaResyncing(Direction direction, long lo, long hi);

    // ------------------------------------------------------------------ metadata

    /**
     * md's {@code metadata_update_start}: take the cluster's metadata lock before writing
     * superblocks. Followed by exactly one {@link #metadataUpdateFinish} or
     * {@link #metadataUpdateCancel}.
     */
    void metadataUpdateStart() throws Raid1Exception;

    /**
     * md's {@code metadata_update_finish}: the superblocks are written; tell every peer to
     * reload them from device {@code goodDevNumber} (METADATA_UPDATED), then release the lock.
     * The lock is released even when this throws.
     */
    void metadataUpdateFinish(int goodDevNumber) throws Raid1Exception;

    /** md's {@code metadata_update_cancel}: release the lock, nothing was written. Never throws. */
    void metadataUpdateCancel();

    /**
     * md's {@code update_size}, after the superblocks carrying {@code newSectors} were written
     * (their METADATA_UPDATED made each peer resize its own bitmap slot) and {@code bitmap}, this
     * node's, was resized to it: under the metadata lock,
     * every other slot's bitmap must cover {@code newSectors} (md's {@code cluster_check_sync_size};
     * a free slot is resized here, holding its bitmap lock), and then every peer is told to grow
     * its capacity (CHANGE_CAPACITY). Returns once that was sent; a failure to send it is logged,
     * not thrown (the sizes are agreed by then). Nothing to do for a node alone.
     *
     * @throws Raid1Exception CLUSTER naming a slot whose bitmap does not cover the new size; no
     *     CHANGE_CAPACITY was sent then, and the engine puts the old size back
     */
    default void updateSize(long oldSectors, long newSectors, WriteIntentBitmap bitmap) throws Raid1Exception {}

    /**
     * The metadata lock taken for a whole size change, from the grower's own slot resize to
     * CHANGE_CAPACITY or the undo, and held by this node across the superblock updates in
     * between (they use it instead of asking again). A node that joins takes the same lock
     * before its bitmap slot's, so it never sees the slots and the superblock at two sizes
     * (docs/md-cluster-protocol.md §f.7, docs/lessons.md §61). Nothing to do for a node alone.
     *
     * @throws Raid1Exception CLUSTER when the lock is not granted in time
     */
    default void sizeChangeStart() throws Raid1Exception {}

    /** Releases what {@link #sizeChangeStart} took. Never throws; nothing to do when nothing was taken. */
    default void sizeChangeEnd() {}

    // ------------------------------------------------------------------ devices

    /**
     * mdadm's step before {@link #addNewDisk}: picks a new device's desc_nr and writes its
     * superblock (with {@code deviceUuid}), or checks that a returning device's own desc_nr is
     * free. Runs under the metadata lock, so the number is chosen from a view that holds every
     * earlier add of every node.
     */
    @FunctionalInterface
    interface NewDiskLabel {
        /** @return the desc_nr the device carries */
        int write() throws Raid1Exception;
    }

    /**
     * md's {@code add_new_disk}: takes the metadata lock, runs {@code label} under it, then asks
     * every peer to find the device (NEWDISK) and confirm it. On success the metadata lock stays
     * held and the engine's next superblock update (ending with {@link #metadataUpdateFinish})
     * commits the add; on failure nothing is held.
     *
     * @return the desc_nr {@code label} gave the device
     * @throws Raid1Exception CLUSTER when a peer does not see the device (md's ENOENT); whatever
     *     {@code label} threw
     */
    int addNewDisk(UUID deviceUuid, NewDiskLabel label) throws Raid1Exception;

    /** md's {@code add_new_disk_cancel}: the add failed locally after {@link #addNewDisk}; release. */
    void addNewDiskCancel();

    /** md's {@code remove_disk}: tell every peer to drop device {@code devNumber} (REMOVE). */
    void removeDisk(int devNumber) throws Raid1Exception;

    /**
     * What the re-add of a faulty device does under the metadata lock before RE_ADD is sent: the
     * check that the device is still faulty in the array as every node's messages left it, and
     * the clearing of its stale slot headers (docs/lessons.md §64). Throwing refuses the re-add:
     * nothing is sent, nothing merged.
     */
    @FunctionalInterface
    interface ReAddCheck {
        void run() throws Raid1Exception;
    }

    /**
     * md's {@code gather_bitmaps}, for the re-add of a faulty device: under the metadata lock
     * (the one superblock updates and adds take), runs {@code check} and tells the peers to use
     * the device again (RE_ADD), then releases the lock and merges every other slot's bits into
     * {@code bitmap} without clearing them, lowering the resync point through
     * {@link Mddev#lowerRecoveryCp}. Every earlier message of every node was processed here
     * before the lock was granted, so {@code check} sees a peer's re-add of the same device that
     * came first (docs/lessons.md §67).
     *
     * @throws Raid1Exception whatever {@code check} threw (nothing sent then); CLUSTER when the
     *     lock is not granted in time or a peer does not acknowledge RE_ADD
     */
    void gatherBitmaps(int devNumber, ReAddCheck check, WriteIntentBitmap bitmap) throws Raid1Exception;

    /** {@link #gatherBitmaps(int, ReAddCheck, WriteIntentBitmap)} with nothing to check. */
    default void gatherBitmaps(int devNumber, WriteIntentBitmap bitmap) throws Raid1Exception {
        gatherBitmaps(devNumber, () -> {}, bitmap);
    }
}
