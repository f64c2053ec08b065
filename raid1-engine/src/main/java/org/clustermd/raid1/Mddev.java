package org.clustermd.raid1;

import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;

/**
 * The array as {@link ClusterOperations} sees it: md's {@code struct mddev} and the handful of
 * md functions md-cluster calls back into ({@code md_reload_sb}, {@code mddev->pers->quiesce},
 * {@code md_wakeup_thread}, ...). {@link Raid1Array} implements it and hands it to
 * {@link ClusterOperations#join}.
 *
 * <p>Every callback takes only short engine locks that are never held across a cluster call or
 * I/O, so a cluster receive thread can call them while another local thread waits for a cluster
 * lock. Callbacks that do I/O say so and are bounded.
 *
 * <p>Thread-safe: callable from any thread once {@link ClusterOperations#join} was called.
 */
public interface Mddev {
    /**
     * md's {@code MaxSector} in memory: the {@link #recoveryCp()} of a clean array. The one
     * "clean" value of the engine; the superblock spells it {@code Superblock.MAX_SECTOR} (all
     * ones on disk), and only ArrayMetadata converts between the two.
     */
    long MAX_SECTOR = Long.MAX_VALUE;

    /** The array name (md's {@code md0}). */
    String name();

    /** set_uuid: the lockspace is named after it. */
    UUID uuid();

    /** The bitmap's cluster_name ("" without a clustered bitmap). */
    String clusterName();

    /** The superblock's events as this node knows them. */
    long events();

    /** md's {@code recovery_cp}: sectors known in sync ({@link #MAX_SECTOR} when clean). */
    long recoveryCp();

    /** This node's bitmap; empty for an array without one, or before it is loaded. */
    Optional<WriteIntentBitmap> bitmap();

    /**
     * {@code pers->quiesce(mddev, 1)}: holds new I/O and waits until no request of this node is
     * in flight (held requests that wait for a superblock update do not count). Bounded by the
     * array's I/O wait timeout. Quiesces nest; each is ended by one {@link #unquiesce}.
     *
     * @throws Raid1Exception TIMEOUT when requests did not drain in time (nothing is held then)
     */
    void quiesce() throws Raid1Exception;

    /**
     * {@code pers->quiesce(mddev, 0)}: ends one {@link #quiesce} (never the session hold) and
     * wakes writers waiting for {@link ClusterOperations#areaResyncing} to clear. Without a
     * quiesce to end it is logged and ignored.
     */
    void unquiesce();

    /**
     * The session hold (docs/lessons.md §31): the lock manager's session is in doubt, so another
     * node may get this node's bitmap lock at any moment. Holds all new I/O at once (the array
     * reads SUSPENDED), then waits, bounded by the array's I/O wait, for the requests in flight.
     * Unlike {@link #quiesce} it keeps holding when they do not drain in time: the hold ends only
     * with {@link #releaseSessionHold}. Counted apart from quiesce, so neither ends the other.
     * Idempotent while held.
     *
     * @return true when the requests in flight drained; false when the wait ran out or the
     *     calling thread was interrupted (held all the same; the interrupt status is kept)
     */
    boolean holdForSession();

    /** Ends the session hold (the same session is back, or the array is fenced). Idempotent. */
    void releaseSessionHold();

    /**
     * The range drain of a peer's resync window (md's receiver quiesces the whole array instead):
     * call it once {@link ClusterOperations#areaResyncing} answers true for WRITE over
     * {@code [lo, hi)}. Returns when this node's requests that were in flight there have ended;
     * new writes there already wait for the window, and I/O elsewhere goes on and is not waited
     * for (but for requests that share the range's barrier buckets, 1 GiB apart). Bounded by
     * {@code bound} and by the array's I/O wait, whichever is shorter. Takes no lock a writer
     * holds while it waits for a window, so it cannot wait for a writer that waits for it.
     *
     * @throws Raid1Exception TIMEOUT when they did not end in time (the window stays set)
     */
    void drainRange(long lo, long hi, Duration bound) throws Raid1Exception;

    /** Wakes writers waiting for {@link ClusterOperations#areaResyncing}: the window moved. */
    void suspendedRangeChanged();

    /**
     * md's {@code md_reload_sb} and {@code check_sb_changes}: re-reads the superblock of device
     * {@code devNumber} (a peer wrote it) and applies what changed, as far as the engine can:
     * the events counter (only ever upwards: nodes never write each other's view backwards),
     * legs the peer failed, spares it activated, recovery offsets. A superblock older than this
     * node's view, an unknown device, an unreadable leg, or a change the engine cannot apply
     * (a device it does not have, raid_disks, size) is logged and skipped: the sender's message
     * is still acknowledged, as md logs and returns. Reads one superblock (two for a leg under
     * recovery).
     */
    void reloadSuperblock(int devNumber) throws Raid1Exception;

    /**
     * {@link #reloadSuperblock(int)} from the in-sync leg with the lowest role: a joiner's
     * catch-up read once it receives every later message (its superblocks were read at assembly,
     * before it joined).
     */
    void reloadSuperblock() throws Raid1Exception;

    /**
     * The array's bound for an administrative wait (md's none; here {@code ArrayOptions.ioWait}):
     * it covers a superblock update with its broadcast, so every cluster bound is below it.
     */
    Duration ioWait();

    /**
     * How many foreground requests (reads, writes, flushes) this node started since assembly; a
     * change means it is busy. Never blocks.
     */
    long foregroundRequests();

    /** Sets md's MD_RECOVERY_NEEDED and wakes the md thread: maybe a sync should start. */
    void requestRecovery();

    /** {@code recovery_cp = min(recovery_cp, sector)}: merged bits need a resync from there. */
    void lowerRecoveryCp(long sector);

    /** A peer removed device {@code devNumber} (REMOVE): drop it once it has no role. */
    void clusterRemove(int devNumber);

    /**
     * Whether {@code devNumber} or {@code deviceUuid} already names a member here: a NEWDISK for
     * it is refused (the device is a leg already, or a concurrent add took the number).
     */
    boolean deviceInUse(int devNumber, UUID deviceUuid);

    /**
     * A peer's add of {@code device} was committed: it joins as a SPARE (no writes until a role
     * is named), from its own superblock. The device is the array's from then on.
     *
     * @throws Raid1Exception INVALID when its superblock is unreadable or another array's, BUSY
     *     when its dev_number is in use here (the caller keeps and closes the device then)
     */
    void clusterAdd(BlockDevice device) throws Raid1Exception;

    /** A peer re-added device {@code devNumber} (RE_ADD): this node writes to it again. */
    void clusterReAdd(int devNumber);

    /**
     * CHANGE_CAPACITY from a peer: every bitmap slot covers the size the last reloaded superblock
     * prepared, so requests and syncs may reach it now (md's {@code set_capacity}); the region
     * grown is resynced. Short, no I/O; may be called from any thread.
     */
    void changeCapacity();

    /**
     * A peer that grew the array died after this node prepared the new size and before its
     * CHANGE_CAPACITY: called once its slot was recovered, this finishes the grow (every slot
     * checked, CHANGE_CAPACITY sent, this node grown) or, when a slot does not cover the new
     * size, puts the old size back in the superblocks (docs/lessons.md §62). Nothing to do when
     * this node's prepared size is the one it serves. Takes the metadata lock; run by the
     * recovery thread, never the receive thread.
     *
     * @throws Raid1Exception when the lock or a step fails; the grow stays unfinished then
     */
    void finishInterruptedGrow() throws Raid1Exception;

    /**
     * Bitmap slot {@code slot}'s owner is gone (it died, or left handing its slot over) and the
     * caller holds that slot's bitmap lock, so nobody writes the slot: every leg this node
     * admitted while the owner lived was given the area without that slot, which the owner was
     * to copy itself (docs/lessons.md §44) and may have died first. Copies the slot onto those legs
     * from an in-sync leg that holds it, before the caller reads or frees it (docs/lessons.md §57).
     * Reads one slot and writes it to each such leg; nothing to do when there is none.
     *
     * @throws Raid1Exception IO_ERROR when no in-sync leg holding the slot could be read (the
     *     caller keeps the slot and tries again)
     */
    void fillSkippedSlot(int slot) throws Raid1Exception;

    /** Stops all I/O for good: new requests fail with FENCED (see {@link FenceReason}). */
    void fence(FenceReason reason, Throwable cause);
}
