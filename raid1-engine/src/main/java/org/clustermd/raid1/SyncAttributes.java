package org.clustermd.raid1;

import java.time.Duration;
import java.util.Optional;
import java.util.function.BooleanSupplier;

/**
 * The array's sync attributes, grouped as md's sysfs groups them under {@code md/}: sync_action,
 * sync_min and sync_max, sync_speed_min and sync_speed_max, sync_speed, sync_completed,
 * mismatch_cnt, and what /proc/mdstat shows; plus the report of the last pass and a wait for
 * the sync thread to go idle. {@link Raid1Array#sync()} returns it. It owns no state: every read
 * and write goes to the array's sync control.
 *
 * <p>Thread-safe.
 */
public final class SyncAttributes {
    private final String name;
    private final SyncControl sync;
    private final ClusterOperations cluster;
    private final ArrayMetadata metadata;
    private final Mirrors mirrors;
    private final BooleanSupplier closing;

    SyncAttributes(
            String name,
            SyncControl sync,
            ClusterOperations cluster,
            ArrayMetadata metadata,
            Mirrors mirrors,
            BooleanSupplier closing) {
        this.name = name;
        this.sync = sync;
        this.cluster = cluster;
        this.metadata = metadata;
        this.mirrors = mirrors;
        this.closing = closing;
    }

    /** md's sync_action. */
    public SyncAction action() {
        return sync.action();
    }

    /**
     * Writes sync_action (md's words: {@link SyncAction#parse}).
     *
     * @throws Raid1Exception BUSY when a pass runs and another is asked for; INVALID when it
     *     cannot apply (check with one leg); CLOSED when the array is stopped
     */
    public void action(SyncAction action) throws Raid1Exception {
        if (closing.getAsBoolean()) throw new Raid1Exception(Raid1Exception.Code.CLOSED, name + ": array is stopped");
        sync.setAction(action);
    }

    /**
     * What /proc/mdstat would show: idle, resync, recovery, check, repair, resync=PENDING,
     * resync=REMOTE, recover=REMOTE (docs/md-cluster-protocol.md §e.7).
     */
    public String status() {
        Optional<SyncPass> p = sync.running();
        if (p.isPresent()) {
            return switch (p.get().action()) {
                case RECOVER -> "recovery";
                case RESYNC -> "resync";
                case CHECK -> "check";
                case REPAIR -> "repair";
                default -> "idle";
            };
        }
        boolean remote = cluster.resyncingRemote();
        if (!mirrors.current().inState(MirrorState.REBUILDING).isEmpty() && remote) return "recover=REMOTE";
        if (metadata.recoveryCp() < Mddev.MAX_SECTOR) return remote ? "resync=REMOTE" : "resync=PENDING";
        return "idle";
    }

    /** md's sync_completed: "done / total" sectors of the running pass, or "none". */
    public String completed() {
        Optional<SyncPass> p = sync.running();
        if (p.isEmpty() || p.get().maxSector() == 0) return "none";
        return p.get().completedUpTo() + " / " + p.get().maxSector();
    }

    /** md's sync_speed, KiB/s, of the running pass (0 when none runs). */
    public long speed() {
        return sync.running().isPresent() ? sync.throttle().currentSpeed() : 0;
    }

    /** md's sync_speed_min, KiB/s. */
    public long speedMin() {
        return sync.throttle().speedMin();
    }

    /** Sets sync_speed_min (KiB/s). */
    public void speedMin(long kib) throws Raid1Exception {
        try {
            sync.throttle().speedMin(kib);
        } catch (IllegalArgumentException e) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, name + ": " + e.getMessage());
        }
    }

    /** md's sync_speed_max, KiB/s. */
    public long speedMax() {
        return sync.throttle().speedMax();
    }

    /** Sets sync_speed_max (KiB/s). */
    public void speedMax(long kib) throws Raid1Exception {
        try {
            sync.throttle().speedMax(kib);
        } catch (IllegalArgumentException e) {
            throw new Raid1Exception(Raid1Exception.Code.INVALID, name + ": " + e.getMessage());
        }
    }

    /** md's sync_min, sectors: where check and repair start. */
    public long min() {
        return sync.syncMin();
    }

    /** Sets sync_min; rounded down to 4 KiB, so every 4 KiB-aligned value reads back unchanged. */
    public void min(long sectors) throws Raid1Exception {
        sync.syncMin(sectors);
    }

    /** md's sync_max, sectors ({@code Long.MAX_VALUE}: "max"): a running pass pauses there. */
    public long max() {
        return sync.syncMax();
    }

    /** Sets sync_max, sectors. */
    public void max(long sectors) throws Raid1Exception {
        sync.syncMax(sectors);
    }

    /** md's mismatch_cnt: sectors found different by the last (or running) check or repair. */
    public long mismatchCount() {
        return sync.mismatchCnt();
    }

    /** The report of the last finished sync pass. */
    public Optional<SyncReport> last() {
        return sync.last();
    }

    /**
     * Waits until no sync pass runs and none is about to start (or sync_action is frozen), and
     * returns the last pass's report.
     *
     * @throws Raid1Exception TIMEOUT
     */
    public Optional<SyncReport> awaitIdle(Duration timeout) throws Raid1Exception {
        return sync.awaitIdle(timeout);
    }
}
