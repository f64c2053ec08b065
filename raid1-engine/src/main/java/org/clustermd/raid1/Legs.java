package org.clustermd.raid1;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Leg management, md's hot_add_disk / hot_remove_disk / md_error / "re-add" /
 * remove_and_add_spares / spare_active / check_sb_changes for raid1.
 *
 * <h2>Re-add and the bitmap (docs/md-cluster-protocol.md §f.6)</h2>
 * A leg coming back (a faulty member, or a removed or kicked leg) keeps its data when the
 * bitmap can prove which blocks changed since it left:
 * <ul>
 *   <li>no bitmap, or the leg's superblock held no role: full recovery;</li>
 *   <li>its events {@code <} the bitmap's events_cleared: bits may have been cleared since it
 *       left, so the bitmap cannot prove anything: full recovery;</li>
 *   <li>{@code events_cleared <= events <= array events}: only the chunks the bitmap marks NEEDED
 *       are copied; if the leg was itself being recovered (MD_FEATURE_RECOVERY_OFFSET), everything
 *       from its recovery_offset on is copied too;</li>
 *   <li>events newer than the array's: refused (it is not this array's past).</li>
 * </ul>
 * The returning leg becomes a SPARE that remembers its role (md's saved_raid_disk); the md
 * thread activates it into that role (REBUILDING) when the role is free, with the bitmap area
 * copied onto it first.
 *
 * <p>Administrative methods run on the caller's thread under the reconfig lock and wait
 * (bounded) for the superblock update that records them. What peers change is applied by
 * {@link PeerChanges}.
 *
 * <p>Thread-safe.
 */
final class Legs {
    private static final Logger log = LoggerFactory.getLogger(Legs.class);

    private final MddevCore array;

    Legs(MddevCore array) {
        this.array = array;
    }

    private Mirror member(String name) throws Raid1Exception {
        return array.mirrors()
                .byName(name)
                .orElseThrow(() -> new Raid1Exception(
                        Raid1Exception.Code.NO_SUCH_DEVICE, array.name() + ": " + name + " is not a member"));
    }

    // ------------------------------------------------------------------ administrative

    void fail(String name) throws Raid1Exception {
        array.reconfigLock().lock();
        try {
            array.checkNotFenced();
            Mirror m = member(name);
            if (m.state() == MirrorState.FAULTY) return;
            CompletableFuture<Void> f = array.legFailed(m, new IOException(name + ": failed by request"));
            if (f == null) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY,
                        array.name() + ": " + name + " is the last in-sync leg; md does not fail it");
            }
            MetadataUpdater.awaitUpdate(array.name(), f, array.ioWaitNanos(), "recording " + name + " as faulty");
        } finally {
            array.reconfigLock().unlock();
        }
    }

    void remove(String name) throws Raid1Exception {
        array.reconfigLock().lock();
        try {
            Mirror m = member(name);
            if (m.state().takesWrites()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY,
                        array.name() + ": " + name + " is " + m.state() + "; fail it before removing it");
            }
            array.cluster().removeDisk(m.devNumber());
            drop(m);
            MetadataUpdater.awaitUpdate(
                    array.name(),
                    array.updater().request("removed " + name),
                    array.ioWaitNanos(),
                    "recording the removal of " + name);
        } finally {
            array.reconfigLock().unlock();
        }
    }

    /** Drops {@code m} from the set and closes its device. */
    void drop(Mirror m) {
        array.publish(set -> set.byDevNumber(m.devNumber()).isPresent() ? set.minus(m.devNumber()) : set);
        array.metadata().forget(m.devNumber());
        Assembler.closeQuietly(m.leg().device);
        log.info("{}: {} removed", array.name(), m.name());
    }

    /** mdadm --add of a new device: a spare (full recovery when it takes a role). */
    void add(BlockDevice given) throws Raid1Exception {
        BlockDevice device = array.leaseHold().guard(given);
        array.reconfigLock().lock();
        try {
            checkFits(device);
            if (array.mirrors().byName(device.name()).isPresent()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY, array.name() + ": " + device.name() + " is already a member");
            }
            UUID uuid = UUID.randomUUID();
            AtomicReference<Superblock> written = new AtomicReference<>();
            int dev = array.cluster().addNewDisk(uuid, () -> {
                written.set(writeNewSuperblock(device, array.mirrors().freeDevNumber(), uuid));
                // before NEWDISK: no peer can have begun copying its slot onto the device (docs/lessons.md §64)
                clearSlotHeaders(device);
                return written.get().devNumber();
            });
            Leg leg = new Leg(device, dev, uuid, array.metadata().template().dataOffset() * BlockDevice.SECTOR_SIZE, 0);
            join(leg, Mirror.readded(leg, false, Mirror.NO_ROLE, 0), written.get());
        } finally {
            array.reconfigLock().unlock();
        }
    }

    /**
     * Re-add of a faulty member (md's "re-add" written to dev-X/state). The leg is checked
     * faulty at once, and again under the cluster's token with everything else that comes
     * before RE_ADD: a peer's re-add of the same leg that got the token first was processed here
     * by then (the leg is a spare again), and this one is refused before it writes anything to
     * the leg (docs/lessons.md §67).
     */
    void reAdd(String name) throws Raid1Exception {
        array.reconfigLock().lock();
        try {
            Mirror m = member(name);
            checkFaulty(m, "");
            AtomicReference<Mirror> spare = new AtomicReference<>();
            WriteIntentBitmap bitmap = array.bitmapOrNull();
            array.cluster()
                    .gatherBitmaps(
                            m.devNumber(),
                            () -> {
                                Mirror now = member(name);
                                checkFaulty(now, " (a peer re-added it meanwhile)");
                                Superblock own = readOwn(now.leg().device);
                                spare.set(returning(now.leg(), own, now.writeMostly()));
                                // before RE_ADD: a faulty leg takes no bitmap writes anywhere, and no peer
                                // copies its slot onto it before it hears of the re-add (docs/lessons.md §64)
                                clearSlotHeaders(now.leg().device);
                            },
                            bitmap);
            Mirror back = spare.get();
            array.publish(set -> set.with(m.devNumber(), x -> back));
            array.syncControl().enableSync();
            log.info("{}: {} re-added ({})", array.name(), name, describe(back));
        } finally {
            array.reconfigLock().unlock();
        }
    }

    /** Refuses the re-add of {@code m} unless it is faulty here; nothing was written to it then. */
    private void checkFaulty(Mirror m, String why) throws Raid1Exception {
        if (m.state() == MirrorState.FAULTY) return;
        throw new Raid1Exception(
                Raid1Exception.Code.BUSY,
                array.name() + ": " + m.name() + " is " + m.state() + ", not faulty" + why
                        + "; only a faulty leg can be re-added, nothing was written to it");
    }

    /** Re-add of a leg that is no longer a member (removed, or kicked at assembly). */
    void reAdd(BlockDevice given) throws Raid1Exception {
        BlockDevice device = array.leaseHold().guard(given);
        array.reconfigLock().lock();
        try {
            checkFits(device);
            Superblock own = readOwn(device);
            if (!own.setUuid().equals(array.uuid())) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        array.name() + ": " + device.name() + " belongs to array " + own.setUuid() + ", not "
                                + array.uuid());
            }
            Optional<Mirror> clash = array.mirrors().byDevNumber(own.devNumber());
            if (clash.isPresent()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY,
                        array.name() + ": dev_number " + own.devNumber() + " of " + device.name() + " is in use by "
                                + clash.get().name() + " (remove it first)");
            }
            Leg leg = Leg.of(device, own);
            Mirror spare = returning(leg, own, (own.devflags() & Superblock.DEVFLAG_WRITE_MOSTLY) != 0);
            array.cluster().addNewDisk(own.deviceUuid(), () -> {
                // again under the token: a peer's add may have taken the number meanwhile
                Optional<Mirror> taken = array.mirrors().byDevNumber(own.devNumber());
                if (taken.isPresent()) {
                    throw new Raid1Exception(
                            Raid1Exception.Code.BUSY,
                            array.name() + ": dev_number " + own.devNumber() + " of " + device.name() + " was taken by "
                                    + taken.get().name());
                }
                clearSlotHeaders(device); // before NEWDISK (docs/lessons.md §64)
                return own.devNumber();
            });
            join(leg, spare, own);
            log.info("{}: {} re-added ({})", array.name(), device.name(), describe(spare));
        } finally {
            array.reconfigLock().unlock();
        }
    }

    /**
     * Only a cluster member admits a leg without some slot (its live peers'): alone, every slot
     * is copied onto it at its admission.
     */
    private void clearSlotHeaders(BlockDevice device) throws Raid1Exception {
        if (!array.cluster().isClustered()) return;
        Superblock sb = array.metadata().template();
        array.mirrors.clearSlotHeaders(device, page -> BitmapLoad.slotHeader(page, sb));
    }

    /**
     * Adds a new member as a SPARE through a superblock update, once the cluster's add protocol
     * confirmed it ({@code addNewDisk} returned, its permit held for this update).
     */
    private void join(Leg leg, Mirror spare, Superblock base) throws Raid1Exception {
        boolean ok = false;
        try {
            array.metadata().remember(leg.devNumber, base);
            array.publish(set -> set.plus(spare));
            CompletableFuture<Void> f = array.updater().request("added " + leg.name());
            ok = true;
            MetadataUpdater.awaitUpdate(array.name(), f, array.ioWaitNanos(), "recording " + leg.name());
        } finally {
            if (!ok) array.cluster().addNewDiskCancel();
        }
        array.syncControl().enableSync();
    }

    /**
     * mdadm writes a new device's superblock before ADD_NEW_DISK: peers find the device by the
     * device UUID in it when NEWDISK names it (docs/md-cluster-protocol.md §f.1). Its events are
     * the array's now, so a peer tells the update that commits the add (newer events on the
     * device) from a refusal (none written). Called under the cluster's token.
     */
    private Superblock writeNewSuperblock(BlockDevice device, int devNumber, UUID deviceUuid) throws Raid1Exception {
        Superblock sb = array.metadata().template().toBuilder()
                .devNumber(devNumber)
                .deviceUuid(deviceUuid)
                .events(array.metadata().events())
                .devRoles(array.mirrors().devRoles(array.metadata().template().maxDev()))
                .dataSize(device.size() / BlockDevice.SECTOR_SIZE
                        - array.metadata().template().dataOffset())
                .build();
        try {
            SuperblockCodec.write(device, sb);
            device.flush();
        } catch (IOException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.METADATA,
                    array.name() + ": writing the superblock of new device " + device.name() + " failed: "
                            + e.getMessage(),
                    e);
        }
        return sb;
    }

    private void checkFits(BlockDevice device) throws Raid1Exception {
        long need = (array.metadata().template().dataOffset() + array.sizeSectors()) * BlockDevice.SECTOR_SIZE;
        if (device.size() < need) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID,
                    array.name() + ": " + device.name() + " has " + device.size() + " bytes; the array needs " + need);
        }
        if (device.logicalBlockSize() > array.logicalBlockSize()) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID,
                    array.name() + ": " + device.name() + " has a larger logical block size than the array ("
                            + device.logicalBlockSize() + ")");
        }
    }

    Superblock readOwn(BlockDevice d) throws Raid1Exception {
        try {
            return SuperblockCodec.read(d);
        } catch (IOException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID,
                    array.name() + ": " + d.name() + " has no readable md superblock; add it as a new device instead: "
                            + e.getMessage(),
                    e);
        }
    }

    /** The f.6 rules: what a returning leg must recover. */
    private Mirror returning(Leg leg, Superblock own, boolean writeMostly) throws Raid1Exception {
        long events = array.metadata().events();
        if (Long.compareUnsigned(own.events(), events) > 0) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID,
                    array.name() + ": " + leg.name() + " has events " + own.events() + ", newer than the array's "
                            + events);
        }
        int role = own.role();
        WriteIntentBitmap bitmap = array.bitmapOrNull();
        long size = array.sizeSectors();
        if (role >= Superblock.ROLE_MAX || role >= array.mirrors().raidDisks()) {
            return Mirror.readded(leg, writeMostly, Mirror.NO_ROLE, 0);
        }
        if (bitmap == null || !array.bitmapTrusted()) return Mirror.readded(leg, writeMostly, role, 0);
        if (own.events() < bitmap.eventsCleared()) {
            log.info(
                    "{}: {} events {} < bitmap events_cleared {}: full recovery",
                    array.name(),
                    leg.name(),
                    own.events(),
                    bitmap.eventsCleared());
            return Mirror.readded(leg, writeMostly, role, 0);
        }
        long fullFrom =
                own.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET) ? Math.min(own.recoveryOffset(), size) : size;
        return Mirror.readded(leg, writeMostly, role, fullFrom);
    }

    private static String describe(Mirror spare) {
        if (spare.savedRole() < 0 || spare.fullSyncFrom() == 0) return "full recovery";
        return "bitmap recovery of role " + spare.savedRole()
                + (spare.fullSyncFrom() < Long.MAX_VALUE ? ", full from sector " + spare.fullSyncFrom() : "");
    }

    /**
     * md's update_raid_disks for raid1 (mdadm --grow --raid-devices): more roles, which spares
     * take and recover, or fewer, when no leg holds the roles given up. Refused while a sync runs
     * (md's EBUSY). The superblock update carries the new raid_disks to every peer.
     */
    void growRaidDisks(int n) throws Raid1Exception {
        array.reconfigLock().lock();
        try {
            MirrorSet set = array.mirrors();
            if (n == set.raidDisks()) return;
            if (n < 1 || n > array.metadata().template().maxDev()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.INVALID,
                        array.name() + ": raid_disks " + n + " is outside [1, "
                                + array.metadata().template().maxDev() + "]");
            }
            SyncAction running = array.syncControl().action();
            if (running != SyncAction.IDLE) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY, array.name() + ": " + running + " is running; raid_disks stays");
            }
            Optional<Mirror> beyond = heldBeyond(set, n);
            if (beyond.isPresent()) {
                throw new Raid1Exception(
                        Raid1Exception.Code.BUSY,
                        array.name() + ": " + beyond.get().name() + " holds role "
                                + beyond.get().role() + "; fail and remove it before shrinking to " + n);
            }
            array.publish(s -> s.withRaidDisks(n));
            array.metadata().raidDisks(n);
            MetadataUpdater.awaitUpdate(
                    array.name(),
                    array.updater().request("raid_disks " + n),
                    array.ioWaitNanos(),
                    "recording raid_disks " + n);
            log.info("{}: raid_disks {} -> {}", array.name(), set.raidDisks(), n);
        } finally {
            array.reconfigLock().unlock();
        }
        array.syncControl().requestRecovery();
    }

    /** A leg that takes writes in a role {@code >= n}, if any. */
    static Optional<Mirror> heldBeyond(MirrorSet set, int n) {
        return set.mirrors().stream()
                .filter(m -> m.state().takesWrites() && m.role() >= n)
                .findFirst();
    }

    void writeMostly(String name, boolean on) throws Raid1Exception {
        array.reconfigLock().lock();
        try {
            Mirror m = member(name);
            if (m.writeMostly() == on) return;
            array.publish(set -> set.with(m.devNumber(), x -> x.withWriteMostly(on)));
            MetadataUpdater.awaitUpdate(
                    array.name(),
                    array.updater().request("write-mostly " + on + " on " + name),
                    array.ioWaitNanos(),
                    "recording write-mostly");
        } finally {
            array.reconfigLock().unlock();
        }
    }

    // ------------------------------------------------------------------ md thread

    /**
     * remove_and_add_spares: every role without a leg gets a spare, a re-added one that held
     * the role first (bitmap recovery), else any (full recovery). Md thread, reconfig lock held.
     */
    void activateSpares() {
        // a peer's new leg is recovered by the adder's pass, not picked here first (docs/lessons.md §14)
        if (array.cluster().waitingForSync()) return;
        for (; ; ) {
            MirrorSet set = array.mirrors();
            int role = set.firstVacantRole();
            if (role < 0) return;
            Mirror pick = null;
            for (Mirror m : set.inState(MirrorState.SPARE)) {
                if (m.savedRole() == role) {
                    pick = m;
                    break;
                }
                if (pick == null) pick = m;
            }
            if (pick == null) return;
            long fullFrom = pick.savedRole() == role ? pick.fullSyncFrom() : 0;
            Mirror rebuilding = pick.rebuilding(role, 0, fullFrom);
            Mirror spare = pick;
            try {
                array.admitToBitmap(spare.leg(), () -> array.publish(s -> s.with(spare.devNumber(), x -> rebuilding)));
            } catch (IOException e) {
                log.warn("{}: {} could not take the bitmap area: {}", array.name(), spare.name(), e.getMessage());
                // a fenced array fails no leg, nor does a write the lease hold never issued: the
                // same spare would be picked again at once, for ever, with the reconfig lock held
                if (array.legFailed(spare, e) == null) return;
                continue;
            }
            log.info(
                    "{}: {} activated as role {} ({})",
                    array.name(),
                    spare.name(),
                    role,
                    fullFrom == 0
                            ? "full recovery"
                            : fullFrom >= array.sizeSectors()
                                    ? "bitmap recovery"
                                    : "bitmap recovery, full from sector " + fullFrom);
            array.updater().request("spare " + spare.name() + " activated as role " + role);
        }
    }

    /** A recovery checkpoint: the targets hold everything below {@code done}. */
    void recoveryProgress(List<Integer> targets, long done) {
        array.publish(set -> {
            MirrorSet next = set;
            for (int dev : targets) {
                Optional<Mirror> m = next.byDevNumber(dev);
                if (m.isPresent()
                        && m.get().state() == MirrorState.REBUILDING
                        && m.get().recoveryOffset() < done) {
                    next = next.with(dev, x -> x.withRecoveryOffset(done));
                }
            }
            return next;
        });
    }

    /** md's spare_active at the end of a recovery pass (md thread). */
    void recoveryEnded(List<Integer> targets, boolean completed, long end) {
        if (!completed) {
            recoveryProgress(targets, end);
            return;
        }
        array.publish(set -> {
            MirrorSet next = set;
            for (int dev : targets) {
                Optional<Mirror> m = next.byDevNumber(dev);
                if (m.isPresent() && m.get().state() == MirrorState.REBUILDING) {
                    next = next.with(dev, x -> x.withState(MirrorState.IN_SYNC, x.role()));
                }
            }
            return next;
        });
    }
}
