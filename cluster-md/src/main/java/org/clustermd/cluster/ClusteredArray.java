package org.clustermd.cluster;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.zk.DlmCredentials;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.ClusterOperations;
import org.clustermd.raid1.KickedLeg;
import org.clustermd.raid1.Mirror;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.StandaloneClusterOperations;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;

/**
 * A clustered RAID1 array on this node, as an application embeds it (docs/design.md §5's
 * embedding API): {@link #builder()} names the array, its legs, the cluster (a ZooKeeper connect
 * string, an embedded server, or {@link Builder#standalone()} for a single node) and this node;
 * {@link Builder#open()} joins the cluster and assembles the array; {@link #close()} leaves
 * gracefully.
 *
 * <pre>{@code
 * try (ClusteredArray md0 = ClusteredArray.builder()
 *         .name("md0").legs(Path.of("/dev/disk/by-id/lun-a"), Path.of("/dev/disk/by-id/lun-b"))
 *         .zooKeeper("zk1:2181,zk2:2181,zk3:2181").credentials(DlmCredentials.digest("clustermd", secret))
 *         .nodeName("node1").sessionTimeout(Duration.ofSeconds(10))
 *         .listener(new ClusteredArrayListener() { ... })
 *         .open()) {
 *     md0.write(0, buffer, true);          // sector-aligned, bounds-checked; durable on return with fua
 *     md0.readAsync(4096, other).join();
 * }                                        // graceful leave
 * }</pre>
 *
 * <p>Every offset and length is a multiple of {@link #logicalBlockSize()} and lies inside
 * {@link #size()}; anything else fails with {@link Raid1Exception} (UNALIGNED, OUT_OF_RANGE)
 * before a byte is written. The administrative operations are the JMX MBeans' (fail, add,
 * remove, re-add, sync actions and speeds). An add in a clustered array goes through md's
 * NEWDISK: every peer must find the device through its {@link Builder#deviceLocator}, else the
 * add fails with CLUSTER and changes nothing.
 *
 * <p>Thread-safe: every method may be called from any thread.
 */
public final class ClusteredArray implements AutoCloseable {
    private final Raid1Array array;
    private final ClusterCoordinator coordinator;

    private ClusteredArray(Raid1Array array, ClusterCoordinator coordinator) {
        this.array = array;
        this.coordinator = coordinator;
    }

    public static Builder builder() {
        return new Builder();
    }

    // ------------------------------------------------------------------ identity and views

    /** The array name (md's md0). */
    public String name() {
        return array.name();
    }

    /** The array size in bytes. */
    public long size() {
        return array.size();
    }

    /** The unit of every offset and length (512 or 4096). */
    public int logicalBlockSize() {
        return array.logicalBlockSize();
    }

    /** Whether this array runs in a cluster (false: {@link Builder#standalone()}). */
    public boolean clustered() {
        return coordinator != null;
    }

    /** This node's bitmap slot (0 when standalone). */
    public int slot() {
        return coordinator != null ? coordinator.slotNumber() : 0;
    }

    /** The legs left out at assembly, with md's reason (stale, foreign, ...). */
    public List<KickedLeg> kickedAtAssembly() {
        return array.kickedAtAssembly();
    }

    /** The engine, for the read-only views the operator surfaces (JMX, status) publish. */
    public Raid1Array engine() {
        return array;
    }

    /** The cluster coordinator, empty when standalone. */
    public Optional<ClusterCoordinator> coordinator() {
        return Optional.ofNullable(coordinator);
    }

    // ------------------------------------------------------------------ data path

    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return array.readAsync(offset, dst);
    }

    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        return array.writeAsync(offset, src, fua);
    }

    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src) {
        return array.writeAsync(offset, src, false);
    }

    /** Completes when every write completed before the call is durable on every in-sync leg. */
    public CompletableFuture<Void> flushAsync() {
        return array.flushAsync();
    }

    /** Range-checked; the legs are not told (md's raid1 without discard support): nothing is zeroed. */
    public CompletableFuture<Void> discardAsync(long offset, long length) {
        return array.discardAsync(offset, length);
    }

    public void read(long offset, ByteBuffer dst) throws IOException {
        array.read(offset, dst);
    }

    public void write(long offset, ByteBuffer src) throws IOException {
        array.write(offset, src, false);
    }

    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        array.write(offset, src, fua);
    }

    public void flush() throws IOException {
        array.flush();
    }

    public void discard(long offset, long length) throws IOException {
        array.discard(offset, length);
    }

    // ------------------------------------------------------------------ administration

    /** mdadm --fail: the leg (its path as given, or its name) becomes faulty. Refused for the last in-sync leg. */
    public void failDevice(String leg) throws Raid1Exception {
        array.failDevice(member(leg));
    }

    /** mdadm --remove of a faulty or spare leg. */
    public void removeDevice(String leg) throws Raid1Exception {
        array.removeDevice(member(leg));
    }

    /** mdadm --add: opens {@code path}; it becomes a spare, or takes a missing role (full recovery). */
    public void addDevice(Path path) throws IOException {
        BlockDevice device = BlockDevices.open(path);
        try {
            array.addDevice(device);
        } catch (Raid1Exception | RuntimeException e) {
            closeQuietly(device, e);
            throw e;
        }
    }

    /**
     * mdadm --re-add: a faulty member is re-added by name; a leg that is no longer a member
     * (removed, or kicked at assembly) is opened from {@code leg} as a path.
     */
    public void reAddDevice(String leg) throws IOException {
        Optional<Mirror> m = find(leg);
        if (m.isPresent()) {
            array.reAddDevice(m.get().name());
            return;
        }
        BlockDevice device = BlockDevices.open(Path.of(leg));
        try {
            array.reAddDevice(device);
        } catch (Raid1Exception | RuntimeException e) {
            closeQuietly(device, e);
            throw e;
        }
    }

    /**
     * mdadm --grow --size: the array grows to {@code sectors} on every node at once, once every
     * node's bitmap slot covers it ({@link Raid1Array#growSize}); the new region is resynced. An
     * NBD client connected before keeps the size it was told at its handshake, as an open block
     * device does until it is re-read; new connections see the new size.
     */
    public void growSize(long sectors) throws Raid1Exception {
        array.growSize(sectors);
    }

    /** The largest size the smallest leg allows (mdadm's {@code --size max}), sectors. */
    public long maxSizeSectors() {
        return array.maxSizeSectors();
    }

    /** mdadm --grow --raid-devices: {@code n} roles; every node follows ({@link Raid1Array#growRaidDisks}). */
    public void growRaidDisks(int n) throws Raid1Exception {
        array.growRaidDisks(n);
    }

    public SyncAction syncAction() {
        return array.syncAction();
    }

    /** Writes sync_action; BUSY or INVALID when md would refuse it. */
    public void syncAction(SyncAction action) throws Raid1Exception {
        array.syncAction(action);
    }

    public long syncSpeedMin() {
        return array.syncSpeedMin();
    }

    public void syncSpeedMin(long kib) throws Raid1Exception {
        array.syncSpeedMin(kib);
    }

    public long syncSpeedMax() {
        return array.syncSpeedMax();
    }

    public void syncSpeedMax(long kib) throws Raid1Exception {
        array.syncSpeedMax(kib);
    }

    /** Adds a listener for array events (cluster events go to the builder's listener). */
    public void addListener(org.clustermd.raid1.ArrayListener l) {
        array.addListener(l);
    }

    public void removeListener(org.clustermd.raid1.ArrayListener l) {
        array.removeListener(l);
    }

    /** Graceful leave: the array is stopped clean, then this node leaves the cluster. Idempotent. */
    @Override
    public void close() {
        array.close();
    }

    @Override
    public String toString() {
        return "ClusteredArray[" + array.name() + (coordinator != null ? ", " + coordinator : ", standalone") + "]";
    }

    /** The member's name for {@code leg}, given as its name or a path that names the same file. */
    private String member(String leg) throws Raid1Exception {
        return find(leg)
                .map(Mirror::name)
                .orElseThrow(() -> new Raid1Exception(
                        Raid1Exception.Code.NO_SUCH_DEVICE, array.name() + ": " + leg + " is not a member"));
    }

    private Optional<Mirror> find(String leg) {
        Objects.requireNonNull(leg, "leg");
        List<Mirror> all = array.mirrors().mirrors();
        for (Mirror m : all) if (m.name().equals(leg)) return Optional.of(m);
        Path asked = Path.of(leg).toAbsolutePath().normalize();
        for (Mirror m : all) if (Path.of(m.name()).toAbsolutePath().normalize().equals(asked)) return Optional.of(m);
        return Optional.empty();
    }

    private static void closeQuietly(BlockDevice device, Exception primary) {
        try {
            device.close();
        } catch (IOException | RuntimeException e) {
            primary.addSuppressed(e);
        }
    }

    /** Builds and opens a {@link ClusteredArray}; not thread-safe. */
    public static final class Builder {
        private String name;
        private final List<Path> legs = new ArrayList<>();
        private String connectString;
        private boolean standalone;
        private DlmCredentials credentials = DlmCredentials.none();
        private String nodeName;
        private Duration sessionTimeout = Duration.ofSeconds(10);
        private Duration connectionTimeout;
        private Duration requestTimeout = Duration.ofSeconds(20);
        private Long syncSpeedMin;
        private Long syncSpeedMax;
        private ClusteredArrayListener listener = new ClusteredArrayListener() {};
        private DeviceLocator locator = DeviceLocator.NONE;

        private Builder() {}

        /** The array name, as created (its superblocks' set_name, or the part after "host:"). Required. */
        public Builder name(String v) {
            this.name = Objects.requireNonNull(v, "name");
            return this;
        }

        /** The legs, the same devices on every node (paths may differ). Required. */
        public Builder legs(List<Path> v) {
            legs.clear();
            legs.addAll(v);
            return this;
        }

        public Builder legs(Path... v) {
            return legs(List.of(v));
        }

        /** The ZooKeeper ensemble, e.g. {@code zk1:2181,zk2:2181,zk3:2181}. */
        public Builder zooKeeper(String connect) {
            this.connectString = Objects.requireNonNull(connect, "connectString");
            return this;
        }

        /** An embedded ZooKeeper server of this process (tests, a single appliance). */
        public Builder zooKeeper(EmbeddedZooKeeper server) {
            return zooKeeper(server.connectString());
        }

        /** No cluster: a single-node array with the standalone cluster operations (refused on a multi-node bitmap's cluster). */
        public Builder standalone() {
            this.standalone = true;
            return this;
        }

        /**
         * ZooKeeper credentials, the same on every node: digest or x509, either over TLS with
         * {@link DlmCredentials#overTls} (the ZooKeeper client's {@code zookeeper.ssl.*} settings).
         */
        public Builder credentials(DlmCredentials v) {
            this.credentials = Objects.requireNonNull(v, "credentials");
            return this;
        }

        /** This node's name, stable across restarts. Required with ZooKeeper. */
        public Builder nodeName(String v) {
            this.nodeName = Objects.requireNonNull(v, "nodeName");
            return this;
        }

        /** A dead node is recovered about this long after it stopped; this node holds its I/O when it cannot renew within it. */
        public Builder sessionTimeout(Duration v) {
            this.sessionTimeout = Objects.requireNonNull(v, "sessionTimeout");
            return this;
        }

        /** How long joining may wait for ZooKeeper (default: the session timeout, at most 15 s). */
        public Builder connectionTimeout(Duration v) {
            this.connectionTimeout = Objects.requireNonNull(v, "connectionTimeout");
            return this;
        }

        /**
         * The bound of every lock request but the resync lock (md: 30 s) and the message
         * channel's token wait; below the array's I/O wait (30 s), as
         * {@link ClusterCoordinator.Builder#requestTimeout} says. Default 20 s, the coordinator's.
         */
        public Builder requestTimeout(Duration v) {
            this.requestTimeout = Objects.requireNonNull(v, "requestTimeout");
            return this;
        }

        /** sync_speed_min at start, KiB/s. */
        public Builder syncSpeedMin(long kib) {
            this.syncSpeedMin = kib;
            return this;
        }

        /** sync_speed_max at start, KiB/s. */
        public Builder syncSpeedMax(long kib) {
            this.syncSpeedMax = kib;
            return this;
        }

        /**
         * Finds on this node the devices peers add (md's NEWDISK), e.g. a {@link GlobDeviceLocator}.
         * Default {@link DeviceLocator#NONE}: this node refuses every add while it is a member.
         */
        public Builder deviceLocator(DeviceLocator v) {
            this.locator = Objects.requireNonNull(v, "deviceLocator");
            return this;
        }

        public Builder listener(ClusteredArrayListener v) {
            this.listener = Objects.requireNonNull(v, "listener");
            return this;
        }

        /**
         * Checks that the legs hold the array named, joins the cluster and assembles the array.
         *
         * @throws IllegalArgumentException for a missing or contradictory setting
         * @throws IOException when a leg cannot be opened or holds another array (names both),
         *     or a {@link Raid1Exception} from assembly (ASSEMBLY, METADATA, CLUSTER)
         */
        public ClusteredArray open() throws IOException {
            if (name == null || name.isEmpty()) throw new IllegalArgumentException("name is required");
            if (legs.isEmpty()) throw new IllegalArgumentException("at least one leg is required");
            if (standalone == (connectString != null)) {
                throw new IllegalArgumentException(
                        "give either zooKeeper(...) or standalone(), not " + (standalone ? "both" : "neither"));
            }
            if (connectString != null && nodeName == null)
                throw new IllegalArgumentException("nodeName is required with ZooKeeper");
            String setName = Examiner.examine(legs.get(0)).superblock().setName();
            if (!setName.equals(name) && !setName.endsWith(":" + name)) {
                throw new Raid1Exception(
                        Raid1Exception.Code.ASSEMBLY,
                        legs.get(0) + " belongs to array '" + setName + "', not '" + name + "'");
            }
            ClusterCoordinator coordinator = null;
            ClusterOperations ops;
            if (standalone) {
                ops = new StandaloneClusterOperations();
            } else {
                Duration connect = connectionTimeout != null
                        ? connectionTimeout
                        : sessionTimeout.compareTo(Duration.ofSeconds(15)) < 0
                                ? sessionTimeout
                                : Duration.ofSeconds(15);
                coordinator = ClusterCoordinator.builder()
                        .connectString(connectString)
                        .nodeName(nodeName)
                        .credentials(credentials)
                        .sessionTimeout(sessionTimeout)
                        .connectionTimeout(connect)
                        .requestTimeout(requestTimeout)
                        .listener(listener)
                        .deviceLocator(locator)
                        .build();
                ops = coordinator;
            }
            ArrayOptions.Builder options = ArrayOptions.builder().name(name).cluster(ops);
            if (syncSpeedMin != null) options.syncSpeedMin(syncSpeedMin);
            if (syncSpeedMax != null) options.syncSpeedMax(syncSpeedMax);
            Raid1Array array = Raid1Array.open(legs, options.build());
            array.addListener(listener);
            return new ClusteredArray(array, coordinator);
        }
    }
}
