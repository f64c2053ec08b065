package org.clustermd.raid1;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * The array's legs at one moment (md's {@code conf->mirrors}): an immutable, versioned snapshot.
 * The array publishes a new version through a volatile reference whenever a leg changes state;
 * the data path reads the reference once per request and works with that snapshot to the end
 * (the Java stand-in for RCU), so no request ever sees half a change.
 *
 * <p>"Degraded" is computed from the snapshot, never stored: the number of roles
 * {@code 0 .. raid_disks-1} without an IN_SYNC leg.
 *
 * <p>Immutable and thread-safe.
 */
public final class MirrorSet {
    private final long version;
    private final int raidDisks;
    private final List<Mirror> mirrors;
    // precomputed for the data path
    private final Mirror[] writeTargets;
    private final Mirror[] inSync;
    private final int degraded;
    private final int missingRoles;

    MirrorSet(long version, int raidDisks, List<Mirror> mirrors) {
        this.version = version;
        this.raidDisks = raidDisks;
        List<Mirror> sorted = new ArrayList<>(mirrors);
        sorted.sort(Comparator.comparingInt(Mirror::devNumber));
        for (int i = 1; i < sorted.size(); i++) {
            if (sorted.get(i).devNumber() == sorted.get(i - 1).devNumber()) {
                throw new IllegalArgumentException(
                        "two legs with dev_number " + sorted.get(i).devNumber());
            }
        }
        this.mirrors = Collections.unmodifiableList(sorted);
        List<Mirror> targets = new ArrayList<>();
        List<Mirror> good = new ArrayList<>();
        boolean[] held = new boolean[raidDisks];
        for (Mirror m : sorted) {
            if (m.state().takesWrites()) {
                if (m.role() >= raidDisks)
                    throw new IllegalArgumentException(m + " has a role beyond raid_disks " + raidDisks);
                targets.add(m);
            }
            if (m.state() == MirrorState.IN_SYNC) {
                good.add(m);
                held[m.role()] = true;
            }
        }
        good.sort(Comparator.comparingInt(Mirror::role).thenComparingInt(Mirror::devNumber));
        this.writeTargets = targets.toArray(new Mirror[0]);
        this.inSync = good.toArray(new Mirror[0]);
        int missing = 0;
        for (boolean h : held) if (!h) missing++;
        this.degraded = missing;
        boolean[] covered = new boolean[raidDisks];
        for (Mirror m : targets) covered[m.role()] = true;
        int uncovered = 0;
        for (boolean c : covered) if (!c) uncovered++;
        this.missingRoles = uncovered;
    }

    /** Increases by one with every published change. */
    public long version() {
        return version;
    }

    /** raid_disks: the number of roles. */
    public int raidDisks() {
        return raidDisks;
    }

    /** Every member, ordered by dev_number. */
    public List<Mirror> mirrors() {
        return mirrors;
    }

    /** md's {@code mddev->degraded}: roles without an IN_SYNC leg. */
    public int degraded() {
        return degraded;
    }

    /**
     * Roles no leg receives writes for (neither IN_SYNC nor REBUILDING): a write cannot reach
     * every role, so its bitmap bits must stay until the role is recovered (docs/lessons.md §30).
     */
    public int missingRoles() {
        return missingRoles;
    }

    /** IN_SYNC legs, ordered by role ("the first in-sync leg" is element 0). */
    public List<Mirror> inSync() {
        return List.of(inSync);
    }

    /** Legs that receive writes (IN_SYNC and REBUILDING), ordered by dev_number. */
    public List<Mirror> writeTargets() {
        return List.of(writeTargets);
    }

    Mirror[] writeTargetArray() {
        return writeTargets;
    }

    Mirror[] inSyncArray() {
        return inSync;
    }

    /** Legs in {@code state}. */
    public List<Mirror> inState(MirrorState state) {
        List<Mirror> out = new ArrayList<>();
        for (Mirror m : mirrors) if (m.state() == state) out.add(m);
        return out;
    }

    public Optional<Mirror> byName(String name) {
        for (Mirror m : mirrors) if (m.name().equals(name)) return Optional.of(m);
        return Optional.empty();
    }

    public Optional<Mirror> byDevNumber(int devNumber) {
        for (Mirror m : mirrors) if (m.devNumber() == devNumber) return Optional.of(m);
        return Optional.empty();
    }

    /** The first role (lowest) with no leg holding it at all, or -1. */
    int firstVacantRole() {
        boolean[] held = new boolean[raidDisks];
        for (Mirror m : mirrors) if (m.state().takesWrites()) held[m.role()] = true;
        for (int r = 0; r < raidDisks; r++) if (!held[r]) return r;
        return -1;
    }

    /** The smallest dev_number not in use. */
    int freeDevNumber() {
        int n = 0;
        for (Mirror m : mirrors) if (m.devNumber() == n) n++; // mirrors are sorted by dev_number
        return n;
    }

    /** A new version with {@code change} applied to the member with {@code devNumber}. */
    MirrorSet with(int devNumber, UnaryOperator<Mirror> change) {
        List<Mirror> next = new ArrayList<>(mirrors.size());
        boolean found = false;
        for (Mirror m : mirrors) {
            if (m.devNumber() == devNumber) {
                next.add(change.apply(m));
                found = true;
            } else {
                next.add(m);
            }
        }
        if (!found) throw new IllegalArgumentException("no member with dev_number " + devNumber);
        return new MirrorSet(version + 1, raidDisks, next);
    }

    /** The same legs with {@code n} roles (IllegalArgumentException if a writing leg holds a role beyond them). */
    MirrorSet withRaidDisks(int n) {
        return new MirrorSet(version + 1, n, mirrors);
    }

    MirrorSet plus(Mirror m) {
        List<Mirror> next = new ArrayList<>(mirrors);
        next.add(m);
        return new MirrorSet(version + 1, raidDisks, next);
    }

    MirrorSet minus(int devNumber) {
        List<Mirror> next = new ArrayList<>(mirrors);
        if (!next.removeIf(m -> m.devNumber() == devNumber)) {
            throw new IllegalArgumentException("no member with dev_number " + devNumber);
        }
        return new MirrorSet(version + 1, raidDisks, next);
    }

    /** dev_roles as the superblock records them (md's super_1_sync): absent devices are spare. */
    int[] devRoles(int maxDev) {
        int[] roles = new int[maxDev];
        java.util.Arrays.fill(roles, org.clustermd.raid1.sb.Superblock.ROLE_SPARE);
        for (Mirror m : mirrors) {
            if (m.devNumber() >= maxDev) continue;
            roles[m.devNumber()] = switch (m.state()) {
                case FAULTY -> org.clustermd.raid1.sb.Superblock.ROLE_FAULTY;
                case IN_SYNC, REBUILDING -> m.role();
                case SPARE -> org.clustermd.raid1.sb.Superblock.ROLE_SPARE;
            };
        }
        return roles;
    }

    @Override
    public String toString() {
        return "MirrorSet v" + version + " raid_disks " + raidDisks + " degraded " + degraded + " " + mirrors;
    }
}
