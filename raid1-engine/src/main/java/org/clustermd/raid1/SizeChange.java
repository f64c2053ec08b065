package org.clustermd.raid1;

import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.BitmapGeometry;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Growing the array's size (mdadm {@code --grow --size}; md's {@code size_store},
 * {@code update_size}, raid1's {@code resize} and md-cluster's {@code update_size}), on the node
 * that grows it and on its peers (docs/md-cluster-protocol.md §f.7).
 *
 * <p>Two sizes move apart for a moment: the superblock's size with this node's bitmap slot (the
 * <em>prepared</em> size, {@link ArrayMetadata#size()}), and array_sectors, what requests and
 * syncs may reach ({@link MddevCore#sizeSectors()}). The grower prepares first (its bitmap
 * resized, the new region NEEDED there; then the superblocks written, whose METADATA_UPDATED
 * makes every peer resize its own slot), then asks the cluster whether every slot covers the new
 * size ({@link ClusterOperations#updateSize}: free slots resized, live ones read), and only then
 * does array_sectors grow, on every node at once (CHANGE_CAPACITY). A refusal puts the old size
 * back the same way, before any node could write beyond it (docs/lessons.md §13). The whole of it
 * holds the cluster's metadata lock, so no node joins halfway (docs/lessons.md §61); a grow whose
 * grower died halfway is finished, or put back, by a survivor ({@link #finishInterrupted},
 * docs/lessons.md §62).
 *
 * <p>Shrinking is refused: md shrinks a raid1 when told, which cuts off whatever lies beyond the
 * new end; mdadm's documentation asks the operator to shrink the file system first. Nothing here
 * can tell whether that was done.
 *
 * <p>Owns nothing but the order of those steps: the sizes live in {@link ArrayMetadata} and
 * {@link MddevCore}, the bitmap in its slot. Thread-safety: {@link #grow} and
 * {@link #finishInterrupted} (on the cluster's recovery thread) run under the reconfig lock;
 * {@link #peerWrote} and {@link #capacityChanged} on the cluster's receive thread, which
 * takes no reconfig lock (docs/lessons.md §9).
 */
final class SizeChange {
    private static final Logger log = LoggerFactory.getLogger(SizeChange.class);
    /** md's component_size is in KiB; arrays here are sized in whole 4 KiB blocks (create does the same). */
    static final long UNIT_SECTORS = 8;

    private final MddevCore array;
    /**
     * True while this node grows (or puts the size back): a superblock a peer wrote before our
     * own update carries the size it had, which is not a change to follow (docs/lessons.md §50).
     */
    private volatile boolean growing;

    SizeChange(MddevCore array) {
        this.array = array;
    }

    /** The largest size every member's data area holds (mdadm's {@code --size max}), sectors. */
    long maxSectors() {
        long max = Long.MAX_VALUE;
        for (Mirror m : array.mirrors().mirrors()) {
            Superblock sb = array.metadata().lastFor(m.devNumber());
            long room =
                    m.leg().device.size() / BlockDevice.SECTOR_SIZE - m.leg().dataOffsetBytes / BlockDevice.SECTOR_SIZE;
            if (sb != null) room = Math.min(room, sb.dataSize());
            max = Math.min(max, room);
        }
        return max - max % UNIT_SECTORS;
    }

    /**
     * The largest size this node's bitmap slot can cover without moving any node's slot (their
     * stride is fixed by the size at create, docs/md-cluster-protocol.md §h.2), sectors; the
     * largest value when there is no bitmap or only one slot.
     */
    long bitmapLimitSectors() {
        WriteIntentBitmap b = array.bitmapOrNull();
        if (b == null || b.geometry().slots() == 1) return Long.MAX_VALUE;
        BitmapGeometry g = b.geometry();
        long chunks = (g.stride() - BitmapSuperblock.SIZE) * 8;
        long max = chunks * g.chunkSectors();
        return max - max % UNIT_SECTORS;
    }

    /** mdadm --grow --size: see the class documentation. */
    void grow(long sectors) throws Raid1Exception {
        array.reconfigLock().lock();
        try {
            array.checkNotFenced();
            long old = array.sizeSectors();
            if (sectors == old && array.metadata().size() == old) return;
            check(old, sectors);
            growing = true;
            // held from our slot's resize to CHANGE_CAPACITY or the undo: a joiner waits (docs/lessons.md §61)
            array.cluster().sizeChangeStart();
            try {
                prepare(sectors, "growing to " + sectors + " sectors");
                commitOrUndo(old, sectors);
            } finally {
                array.cluster().sizeChangeEnd();
            }
            log.info("{}: size {} -> {} sectors; the new region is resynced", array.name(), old, sectors);
        } finally {
            growing = false;
            array.reconfigLock().unlock();
        }
        array.syncControl().requestRecovery();
    }

    /** Steps 4 and 5 of §f.7, this node's slot and the superblocks prepared for {@code sectors}. */
    private void commitOrUndo(long old, long sectors) throws Raid1Exception {
        try {
            array.cluster().updateSize(old, sectors, array.bitmapOrNull());
        } catch (Raid1Exception | RuntimeException e) {
            log.warn("{}: putting size {} back: {}", array.name(), old, e.getMessage());
            undo(old, e);
            throw e;
        }
        expose(old, sectors);
    }

    /**
     * The grower died between its superblock update and CHANGE_CAPACITY, leaving this node
     * prepared: the grow is finished from step 4 on as if this node grew, under the same lock, so
     * it either reaches every node or is put back everywhere (docs/lessons.md §62). Every
     * survivor calls this after recovering the dead slot; the first one finishes, and its
     * CHANGE_CAPACITY leaves nothing to do for the others.
     */
    void finishInterrupted() throws Raid1Exception {
        // a fenced node serves nothing and writes nothing: a live survivor finishes it
        if (array.metadata().size() <= array.sizeSectors() || array.isFenced()) return;
        try {
            // interruptible: leave stops the recovery thread that calls this, maybe under this lock
            array.reconfigLock().lockInterruptibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            growing = true;
            array.cluster().sizeChangeStart();
            try {
                // another survivor may have finished it while we waited for the lock
                long old = array.sizeSectors();
                long sectors = array.metadata().size();
                if (sectors <= old) return;
                log.info(
                        "{}: the node growing to {} sectors died before every node grew; finishing its grow",
                        array.name(),
                        sectors);
                commitOrUndo(old, sectors);
                log.info("{}: size {} -> {} sectors (a dead peer's grow, finished here)", array.name(), old, sectors);
            } finally {
                array.cluster().sizeChangeEnd();
            }
        } finally {
            growing = false;
            array.reconfigLock().unlock();
        }
        array.syncControl().requestRecovery();
    }

    private void check(long old, long sectors) throws Raid1Exception {
        String name = array.name();
        if (sectors % UNIT_SECTORS != 0 || sectors <= 0) {
            throw invalid(name + ": size " + sectors + " sectors is not a positive multiple of 4 KiB");
        }
        if (sectors < old) {
            throw invalid(name + ": shrinking from " + old + " to " + sectors + " sectors is refused: it cuts off the"
                    + " data beyond the new end (md shrinks when told, after the file system was shrunk; clustermd"
                    + " does not shrink)");
        }
        long max = maxSectors();
        if (sectors > max) {
            throw invalid(name + ": size " + sectors + " sectors is more than the smallest leg's data area holds ("
                    + max + " sectors)");
        }
        long limit = bitmapLimitSectors();
        if (sectors > limit) {
            WriteIntentBitmap b = array.bitmapOrNull();
            throw invalid(name + ": size " + sectors + " sectors needs more bitmap chunks than a node slot holds: the"
                    + " slots are " + b.geometry().stride() + " bytes apart (fixed by the size at create), which"
                    + " covers at most " + limit + " sectors in chunks of "
                    + b.geometry().chunkSize()
                    + " bytes; slots are not moved");
        }
        SyncAction running = array.syncControl().action();
        if (running != SyncAction.IDLE) {
            throw new Raid1Exception(Raid1Exception.Code.BUSY, name + ": " + running + " is running; size stays");
        }
        if (array.cluster().resyncingRemote()) {
            throw new Raid1Exception(
                    Raid1Exception.Code.BUSY, name + ": another node is resyncing the array; size stays");
        }
    }

    /**
     * This node's slot resized to {@code sectors} (quiesced, as md's bitmap resize is), then the
     * superblocks written with it: every peer resizes its own slot when it reloads them.
     */
    private void prepare(long sectors, String why) throws Raid1Exception {
        resizeBitmap(sectors);
        array.metadata().size(sectors);
        MetadataUpdater.awaitUpdate(
                array.name(), array.updater().request(why), array.ioWaitNanos(), "recording size " + sectors);
    }

    /** A refused grow: the old size prepared again everywhere; failures are added to {@code cause}. */
    private void undo(long sectors, Throwable cause) {
        try {
            prepare(sectors, "size back to " + sectors + " sectors");
        } catch (Raid1Exception | RuntimeException e) {
            cause.addSuppressed(e);
            log.error("{}: putting size {} back failed: {}", array.name(), sectors, e.getMessage());
        }
    }

    private void resizeBitmap(long sectors) throws Raid1Exception {
        WriteIntentBitmap b = array.bitmapOrNull();
        if (b == null || b.geometry().syncSize() == sectors) return;
        array.holds.quiesce();
        try {
            b.resize(sectors);
        } catch (BitmapException e) {
            throw new Raid1Exception(
                    e.code() == BitmapException.Code.BUSY ? Raid1Exception.Code.BUSY : Raid1Exception.Code.METADATA,
                    array.name() + ": resizing the bitmap to " + sectors + " sectors failed: " + e.getMessage(),
                    e);
        } finally {
            array.holds.unquiesce();
        }
    }

    /**
     * array_sectors becomes {@code sectors}; the region grown needs a resync (raid1_resize lowers
     * recovery_cp to the old end; the bitmap marked its chunks NEEDED when it was resized).
     */
    private void expose(long old, long sectors) {
        array.sizeSectors(sectors);
        array.metadata().lowerRecoveryCp(old);
        array.notifyChange(AttributeChange.array(AttributeChange.COMPONENT_SIZE, old / 2, sectors / 2));
    }

    private static Raid1Exception invalid(String message) {
        return new Raid1Exception(Raid1Exception.Code.INVALID, message);
    }

    // ------------------------------------------------------------------ a peer's change

    /**
     * check_sb_changes' size part, for a superblock a peer wrote: this node's slot follows the
     * size prepared there (a grow, or its undo), array_sectors stays until CHANGE_CAPACITY. A
     * failure is logged: the grower reads our slot's sync_size and refuses.
     */
    void peerWrote(long sectors) {
        if (array.bitmapOrNull() == null) {
            // our join's catch-up, under the metadata lock, before our slot is opened: no grow is
            // in flight while we hold it, so the superblock's size is the one every node serves
            // (docs/lessons.md §61)
            joinedAt(sectors);
            return;
        }
        long prepared = array.metadata().size();
        if (sectors == prepared) return;
        if (growing) {
            log.info(
                    "{}: a peer's superblock says size {} sectors, written before our grow reached it; ours stays {}",
                    array.name(),
                    sectors,
                    prepared);
            return;
        }
        long exposed = array.sizeSectors();
        if (sectors < exposed) {
            log.warn(
                    "{}: a peer wrote size {} sectors, below this node's {}: shrinking is not supported; not applied",
                    array.name(),
                    sectors,
                    exposed);
            return;
        }
        try {
            resizeBitmap(sectors);
            array.metadata().size(sectors);
            log.info(
                    "{}: size {} sectors prepared (a peer grows the array; {} until every slot covers it)",
                    array.name(),
                    sectors,
                    exposed);
        } catch (Raid1Exception e) {
            log.warn("{}: preparing size {} sectors for a peer failed: {}", array.name(), sectors, e.getMessage());
        }
    }

    private void joinedAt(long sectors) {
        long before = array.sizeSectors();
        array.metadata().size(sectors);
        array.sizeSectors(sectors);
        if (before != sectors) {
            log.info(
                    "{}: size {} sectors, as the superblock says at our join ({} when assembly read it)",
                    array.name(),
                    sectors,
                    before);
        }
    }

    /** CHANGE_CAPACITY: every slot covers the prepared size; requests and syncs may reach it now. */
    void capacityChanged() {
        long old = array.sizeSectors();
        long sectors = array.metadata().size();
        if (sectors <= old) return;
        expose(old, sectors);
        log.info("{}: size {} -> {} sectors (a peer grew the array)", array.name(), old, sectors);
        array.syncControl().requestRecovery();
    }
}
