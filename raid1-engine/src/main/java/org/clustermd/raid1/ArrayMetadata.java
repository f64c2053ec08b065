package org.clustermd.raid1;

import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockBuilder;

/**
 * The array-wide superblock fields as this node knows them (md's mddev: events, recovery_cp,
 * in_sync, raid_disks, size) and the last superblock written to or read from each leg (for its
 * per-device fields). Builds the superblock for one leg, as md's {@code super_1_sync} does.
 *
 * <p>Thread-safe: every method is synchronized and does no I/O.
 */
final class ArrayMetadata {
    /** Replaced only by a change of raid_disks or size; volatile so the unsynchronized readers see it. */
    private volatile Superblock template;

    private final Map<Integer, Superblock> perLeg = new HashMap<>();
    private long events;
    private long recoveryCp;
    private boolean inSync;

    ArrayMetadata(Superblock freshest, Map<Integer, Superblock> legs) {
        this.template = freshest;
        this.perLeg.putAll(legs);
        this.events = freshest.events();
        this.recoveryCp = freshest.resyncOffset() == Superblock.MAX_SECTOR ? Mddev.MAX_SECTOR : freshest.resyncOffset();
        this.inSync = true;
    }

    synchronized long events() {
        return events;
    }

    /** Adopts a peer's events counter (md_reload_sb): never goes backwards. */
    synchronized void adoptEvents(long e) {
        if (e > events) events = e;
    }

    /** Starts a superblock update: returns the events it will carry. */
    synchronized long nextEvents() {
        return ++events;
    }

    synchronized long recoveryCp() {
        return recoveryCp;
    }

    synchronized void recoveryCp(long sector) {
        this.recoveryCp = sector;
    }

    /** recovery_cp = min(recovery_cp, sector); true if it moved. */
    synchronized boolean lowerRecoveryCp(long sector) {
        if (sector < recoveryCp) {
            recoveryCp = sector;
            return true;
        }
        return false;
    }

    synchronized boolean inSync() {
        return inSync;
    }

    synchronized void inSync(boolean v) {
        this.inSync = v;
    }

    Superblock template() {
        return template;
    }

    /** The array size in sectors. */
    long size() {
        return template.size();
    }

    /** md's dev_sectors, the superblock's part: later superblocks carry {@code sectors}. */
    synchronized void size(long sectors) {
        template = template.toBuilder().size(sectors).build();
    }

    int raidDisks() {
        return template.raidDisks();
    }

    /** md's update_raid_disks, the superblock's part: later superblocks carry {@code n}. */
    synchronized void raidDisks(int n) {
        template = template.toBuilder().raidDisks(n).build();
    }

    synchronized Superblock lastFor(int devNumber) {
        return perLeg.get(devNumber);
    }

    synchronized void remember(int devNumber, Superblock sb) {
        perLeg.put(devNumber, sb);
    }

    synchronized void forget(int devNumber) {
        perLeg.remove(devNumber);
    }

    /** The superblock leg {@code m} gets in an update carrying {@code newEvents}. */
    synchronized Superblock buildFor(Mirror m, MirrorSet set, long newEvents, boolean withBitmap) {
        Superblock own = perLeg.get(m.devNumber());
        SuperblockBuilder b = template.toBuilder()
                .events(newEvents)
                .utime(Superblock.mdTime(Instant.now()))
                .resyncOffset(inSync ? (recoveryCp == Mddev.MAX_SECTOR ? Superblock.MAX_SECTOR : recoveryCp) : 0)
                .devRoles(set.devRoles(template.maxDev()))
                .devNumber(m.devNumber())
                .deviceUuid(m.deviceUuid())
                .devflags(m.writeMostly() ? Superblock.DEVFLAG_WRITE_MOSTLY : 0)
                .cntCorrectedRead((int) Math.min(Integer.MAX_VALUE, m.correctedReads()))
                .withoutFeature(Superblock.FEATURE_RECOVERY_OFFSET | Superblock.FEATURE_RECOVERY_BITMAP)
                .recoveryOffset(0);
        if (own != null) b.dataOffset(own.dataOffset()).dataSize(own.dataSize());
        if (m.state() == MirrorState.REBUILDING) {
            b.withFeature(Superblock.FEATURE_RECOVERY_OFFSET)
                    .recoveryOffset(Math.min(m.recoveryOffset(), template.size()));
            if (withBitmap && m.fullSyncFrom() > 0) b.withFeature(Superblock.FEATURE_RECOVERY_BITMAP);
        }
        return b.build();
    }
}
