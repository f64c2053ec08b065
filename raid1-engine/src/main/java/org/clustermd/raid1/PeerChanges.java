package org.clustermd.raid1;

import java.io.IOException;
import java.util.Optional;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a peer changed, applied on this node: md's {@code md_reload_sb} and
 * {@code check_sb_changes} after METADATA_UPDATED (events, failed legs, activated spares,
 * recovery offsets, raid_disks, size through {@link SizeChange}), REMOVE, RE_ADD, and a device whose NEWDISK was committed
 * (docs/md-cluster-protocol.md §f). Owns nothing: it changes the array's mirror set through
 * {@link MddevCore#publish} and its metadata.
 *
 * <p>Thread-safety: called on the cluster's receive thread (and a joiner's catch-up); takes only
 * the mirror set's short lock, never the reconfig lock, so a peer's admin operation holding that
 * lock while its own update waits for the token cannot block it (docs/lessons.md §9).
 */
final class PeerChanges {
    /** The legs' category: these lines are about the same legs. */
    private static final Logger log = LoggerFactory.getLogger(Legs.class);

    private final MddevCore array;
    private final Legs legs;
    private final SizeChange sizes;

    PeerChanges(MddevCore array, Legs legs, SizeChange sizes) {
        this.array = array;
        this.legs = legs;
        this.sizes = sizes;
    }

    /**
     * METADATA_UPDATED from a peer (md's md_reload_sb and check_sb_changes, as far as this engine
     * can apply them). Never throws for what it cannot apply: it logs it, and the message is
     * acknowledged all the same (md logs and returns; docs/md-cluster-protocol.md §f.5).
     */
    void reloadSuperblock(int devNumber) {
        Optional<Mirror> source = array.mirrors().byDevNumber(devNumber);
        if (source.isEmpty()) {
            log.warn(
                    "{}: a peer wrote the superblock and named dev_number {} to reload from, which is not a member here; not reloaded",
                    array.name(),
                    devNumber);
            return;
        }
        Mirror src = source.get();
        Superblock sb;
        try {
            sb = SuperblockCodec.read(src.leg().device);
        } catch (IOException e) {
            // md keeps the superblock it had when read_rdev fails
            log.warn(
                    "{}: reloading the superblock of {} failed; keeping this node's view: {}",
                    array.name(),
                    src.name(),
                    e.getMessage());
            return;
        }
        long ours = array.metadata().events();
        if (sb.events() < ours) {
            // one events counter for the array: an older superblock never rolls our view back
            log.warn(
                    "{}: the superblock on {} (events {}) is older than this node's view (events {}); not applied",
                    array.name(),
                    src.name(),
                    sb.events(),
                    ours);
            return;
        }
        array.metadata().adoptEvents(sb.events());
        if (sb.raidDisks() != array.mirrors().raidDisks()) followRaidDisks(sb.raidDisks());
        if (sb.size() != array.metadata().size()) sizes.peerWrote(sb.size());
        for (Mirror m : array.mirrors().mirrors()) {
            int role = m.devNumber() < sb.maxDev() ? sb.devRole(m.devNumber()) : Superblock.ROLE_SPARE;
            if (role == Superblock.ROLE_FAULTY && m.state() != MirrorState.FAULTY) {
                array.markFaultyLocally(m, "faulty in the superblock another node wrote");
            } else if (role < Superblock.ROLE_MAX && m.state() == MirrorState.SPARE) {
                if (array.cluster().waitingForSync()) {
                    // md's check_sb_changes under MD_CLUSTER_WAITING_FOR_SYNC: the adder's pass
                    // recovers it; activated here once that pass started (docs/lessons.md §14)
                    log.info(
                            "{}: {} has role {} in a peer's superblock; held as a spare until the adder's sync starts",
                            array.name(),
                            m.name(),
                            role);
                    continue;
                }
                activate(m, role);
            } else if (m.state() == MirrorState.REBUILDING) {
                followRecovery(m);
            }
        }
        logUnapplied(sb);
    }

    /**
     * md's check_sb_changes activates the spare inside the reload (remove_and_add_spares), not
     * later on its md thread: this node writes to the leg before it acknowledges. The adder's
     * recovery copies only after every peer acknowledged; a peer still writing around the leg
     * after that (its md thread late, or its sync frozen) would leave stale on the leg the chunks
     * the recovery had copied already (docs/lessons.md §47). The superblock's recovery_offset is
     * followed at once.
     */
    private void activate(Mirror spare, int role) {
        Mirror rebuilding = spare.rebuilding(role, 0, spare.fullSyncFrom());
        try {
            array.admitToBitmap(spare.leg(), () -> array.publish(set -> set.with(spare.devNumber(), x -> rebuilding)));
        } catch (IOException e) {
            log.warn("{}: {} could not take the bitmap area: {}", array.name(), spare.name(), e.getMessage());
            array.legFailed(spare, e);
            return;
        }
        log.info(
                "{}: {} activated as role {} (a peer's superblock gives it the role)",
                array.name(),
                spare.name(),
                role);
        array.mirrors().byDevNumber(spare.devNumber()).ifPresent(this::followRecovery);
        array.syncControl().requestRecovery();
    }

    /** The catch-up reload of a joiner: from the in-sync leg with the lowest role. */
    void reloadSuperblock() {
        Mirror good = null;
        for (Mirror m : array.mirrors().inState(MirrorState.IN_SYNC)) {
            if (good == null || m.role() < good.role()) good = m;
        }
        if (good == null) {
            log.warn("{}: no in-sync leg to re-read the superblock from", array.name());
            return;
        }
        reloadSuperblock(good.devNumber());
    }

    private void followRecovery(Mirror m) {
        try {
            Superblock own = SuperblockCodec.read(m.leg().device);
            if (!own.hasFeature(Superblock.FEATURE_RECOVERY_OFFSET) && own.role() == m.role()) {
                array.publish(set -> set.with(m.devNumber(), x -> x.withState(MirrorState.IN_SYNC, x.role())));
            } else if (own.recoveryOffset() > m.recoveryOffset()) {
                array.publish(set -> set.with(m.devNumber(), x -> x.withRecoveryOffset(own.recoveryOffset())));
            }
        } catch (IOException e) {
            log.warn("{}: reading {}'s recovery_offset failed: {}", array.name(), m.name(), e.getMessage());
        }
    }

    /** check_sb_changes' update_raid_disks: a peer grew or shrank the array. */
    private void followRaidDisks(int n) {
        Optional<Mirror> beyond = Legs.heldBeyond(array.mirrors(), n);
        if (beyond.isPresent()) {
            log.warn(
                    "{}: a peer wrote raid_disks {} but {} holds role {} here; not applied",
                    array.name(),
                    n,
                    beyond.get().name(),
                    beyond.get().role());
            return;
        }
        int before = array.mirrors().raidDisks();
        array.publish(s -> s.withRaidDisks(n));
        array.metadata().raidDisks(n);
        array.syncControl().requestRecovery();
        log.info("{}: raid_disks {} -> {} (a peer grew the array)", array.name(), before, n);
    }

    /** What check_sb_changes would apply and this engine cannot yet: said, not hidden. */
    private void logUnapplied(Superblock sb) {
        MirrorSet set = array.mirrors();
        for (int d = 0; d < sb.maxDev(); d++) {
            int role = sb.devRole(d);
            if (role < Superblock.ROLE_MAX && set.byDevNumber(d).isEmpty()) {
                log.warn(
                        "{}: dev_number {} has role {} in the superblock a peer wrote but is not a member here (its NEWDISK "
                                + "was not confirmed here)",
                        array.name(),
                        d,
                        role);
            }
        }
    }

    /** REMOVE from a peer: drop the leg if it holds no role. */
    void clusterRemove(int devNumber) {
        Optional<Mirror> m = array.mirrors().byDevNumber(devNumber);
        if (m.isEmpty()) return;
        if (m.get().state().takesWrites()) {
            log.warn(
                    "{}: a peer removed {} which still holds role {} here; failing it first",
                    array.name(),
                    m.get().name(),
                    m.get().role());
            array.markFaultyLocally(m.get(), "removed by a peer");
        }
        legs.drop(m.get());
    }

    /**
     * A peer's add of {@code given} was committed (docs/md-cluster-protocol.md §f.1): the device
     * joins this node as a SPARE (no writes) from its own superblock; the reload that follows
     * gives it the role the peer's superblock names.
     */
    void clusterAdd(BlockDevice given) throws Raid1Exception {
        BlockDevice device = array.leaseHold().guard(given);
        Superblock own = legs.readOwn(device);
        if (!own.setUuid().equals(array.uuid())) {
            throw new Raid1Exception(
                    Raid1Exception.Code.INVALID,
                    array.name() + ": " + device.name() + " belongs to array " + own.setUuid());
        }
        Optional<Mirror> clash = array.mirrors().byDevNumber(own.devNumber());
        if (clash.isPresent()) {
            throw new Raid1Exception(
                    Raid1Exception.Code.BUSY,
                    array.name() + ": dev_number " + own.devNumber() + " is in use by "
                            + clash.get().name());
        }
        Leg leg = Leg.of(device, own);
        boolean writeMostly = (own.devflags() & Superblock.DEVFLAG_WRITE_MOSTLY) != 0;
        array.metadata().remember(leg.devNumber, own);
        array.publish(set -> set.plus(Mirror.readded(leg, writeMostly, Mirror.NO_ROLE, 0)));
        log.info("{}: {} added by a peer as dev_number {} (a spare)", array.name(), leg.name(), leg.devNumber);
    }

    /** RE_ADD from a peer: write to the leg again (it recovers through the bitmap). */
    void clusterReAdd(int devNumber) {
        Optional<Mirror> m = array.mirrors().byDevNumber(devNumber);
        if (m.isEmpty() || m.get().state() != MirrorState.FAULTY) return;
        Mirror readded =
                Mirror.readded(m.get().leg(), m.get().writeMostly(), m.get().role(), array.sizeSectors());
        array.publish(set -> set.with(devNumber, x -> readded));
        array.syncControl().requestRecovery();
    }
}
