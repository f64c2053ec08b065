package org.clustermd.cluster;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.LockSpaceDump;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.testkit.Timing;

/**
 * A real ZooKeeper, real leg files with a clustered array on them, and nodes (a
 * {@link ClusterCoordinator} plus the {@link Raid1Array} it serves) in this JVM. Closes all it
 * made, arrays first.
 */
final class ClusterFixture implements AutoCloseable {
    static final long CHUNK = 1 << 20;
    static final Duration SESSION = Duration.ofSeconds(2);

    final Path dir;
    /** The size of every leg file, the array's and those {@link #newLeg} makes. */
    final long legBytes;

    final EmbeddedZooKeeper zk;
    final List<Path> legs = new ArrayList<>();
    final CreateResult created;
    private final List<Node> nodes = new ArrayList<>();

    /** One node: its coordinator, array and what its listener heard. */
    static final class Node implements ClusterListener {
        final String name;
        ClusterCoordinator cluster;
        Raid1Array array;
        final List<String> events = new CopyOnWriteArrayList<>();
        final List<SlotCopy> copies = new CopyOnWriteArrayList<>();
        /** Run when this node starts leaving (on the closing thread, before it stops receiving). */
        volatile Runnable onLeaving;
        /** Run when a peer's BITMAP_NEEDS_SYNC arrives, before it is acknowledged (on the receive thread). */
        volatile Runnable onHandOver;
        /** deviceCandidate calls as STATE:devNumber. */
        final List<String> candidates = new CopyOnWriteArrayList<>();
        /** areaResyncing(READ) as seen from inside recover_prep and recover_slot. */
        final List<Boolean> readsUnbalancedDuringRecovery = new CopyOnWriteArrayList<>();

        Node(String name) {
            this.name = name;
        }

        int slot() {
            return cluster.slotNumber();
        }

        @Override
        public void membershipChanged(MembershipState from, MembershipState to) {
            events.add(from + "->" + to);
            Runnable r = onLeaving;
            if (to == MembershipState.LEAVING && r != null) r.run();
        }

        @Override
        public void recoverPrep() {
            events.add("prep");
            readsUnbalancedDuringRecovery.add(
                    cluster.areaResyncing(org.clustermd.raid1.ClusterOperations.Direction.READ, 0, 8));
        }

        @Override
        public void recoverSlot(NodeSlot dead) {
            events.add("slot" + dead.number());
            readsUnbalancedDuringRecovery.add(
                    cluster.areaResyncing(org.clustermd.raid1.ClusterOperations.Direction.READ, 0, 8));
        }

        @Override
        public void slotRecovered(NodeSlot dead, SlotCopy copy) {
            events.add("copied" + dead.number() + ":" + copy.dirtyChunks());
            copies.add(copy);
        }

        @Override
        public void slotHandedOver(NodeSlot leaving) {
            events.add("handover" + leaving.number());
            Runnable r = onHandOver;
            if (r != null) r.run();
        }

        @Override
        public void deviceCandidate(java.util.UUID deviceUuid, int devNumber, CandidateState state, String why) {
            candidates.add(state + ":" + devNumber);
        }

        @Override
        public void recoverDone(Set<NodeSlot> members) {
            events.add("done" + members.stream().map(NodeSlot::number).sorted().toList());
        }

        /** Writes one stamped 4 KiB block at byte {@code offset}. */
        void writeBlock(long offset, long writeId) throws IOException {
            ByteBuffer b = AlignedBuffers.allocate(StampedBlock.SIZE);
            StampedBlock.stamp(b, 0, offset, 1, writeId);
            array.write(offset, b);
        }
    }

    ClusterFixture(Path dir, int nodeSlots, long legBytes) throws Exception {
        this(dir, nodeSlots, legBytes, true);
    }

    /** As above; without {@code assumeClean} the array needs a full resync, which the first node to assemble runs. */
    ClusterFixture(Path dir, int nodeSlots, long legBytes, boolean assumeClean) throws Exception {
        this(dir, nodeSlots, legBytes, assumeClean, 0, CHUNK);
    }

    /** As above, the array {@code sizeBytes} (0: all the legs hold) with bitmap chunks of {@code bitmapChunk} bytes. */
    ClusterFixture(Path dir, int nodeSlots, long legBytes, boolean assumeClean, long sizeBytes, long bitmapChunk)
            throws Exception {
        this.dir = dir;
        this.legBytes = legBytes;
        this.zk = EmbeddedZooKeeper.start(Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
        try {
            for (int i = 0; i < 2; i++) {
                Path f = dir.resolve("leg" + i);
                try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                    raf.setLength(legBytes);
                }
                legs.add(f);
            }
            created = ArrayCreator.create(
                    CreateOptions.builder("md0")
                            .clusterName("test-cluster")
                            .nodes(nodeSlots)
                            .bitmapChunk(bitmapChunk)
                            .assumeClean(assumeClean)
                            .sizeBytes(sizeBytes)
                            .build(),
                    legs);
        } catch (Exception | Error e) {
            zk.close();
            throw e;
        }
    }

    /** Joins a node and assembles the array on it; waits until its start-up sync pass (if any) is over. */
    Node start(String name, boolean bitmapDaemon) throws Exception {
        return start(name, bitmapDaemon, zk.connectString(), SESSION);
    }

    /** As {@link #start(String, boolean)}, through {@code connectString} with session timeout {@code session}. */
    Node start(String name, boolean bitmapDaemon, String connectString, Duration session) throws Exception {
        return start(
                name, bitmapDaemon, connectString, session, ArrayOptions.DEFAULT_IO_WAIT, UnaryOperator.identity());
    }

    /** As above, with the array's I/O wait {@code ioWait} and every leg opened and then wrapped by {@code wrap}. */
    Node start(
            String name,
            boolean bitmapDaemon,
            String connectString,
            Duration session,
            Duration ioWait,
            UnaryOperator<BlockDevice> wrap)
            throws Exception {
        return start(name, bitmapDaemon, connectString, session, ioWait, wrap, DeviceLocator.NONE);
    }

    private Node start(
            String name,
            boolean bitmapDaemon,
            String connectString,
            Duration session,
            Duration ioWait,
            UnaryOperator<BlockDevice> wrap,
            DeviceLocator locator)
            throws Exception {
        Node n = startNoWait(
                name, connectString, session, o -> o.bitmapDaemon(bitmapDaemon).ioWait(ioWait), wrap, locator);
        n.array.awaitSyncIdle(Timing.seconds(60));
        return n;
    }

    /**
     * Joins a node and assembles the array on it with the options {@code options} sets (besides
     * the name and the cluster), legs wrapped by {@code wrap}; returns at once, even while a sync
     * pass runs.
     */
    Node startNoWait(
            String name,
            String connectString,
            Duration session,
            UnaryOperator<ArrayOptions.Builder> options,
            UnaryOperator<BlockDevice> wrap)
            throws Exception {
        return startNoWait(name, connectString, session, options, wrap, DeviceLocator.NONE);
    }

    private Node startNoWait(
            String name,
            String connectString,
            Duration session,
            UnaryOperator<ArrayOptions.Builder> options,
            UnaryOperator<BlockDevice> wrap,
            DeviceLocator locator)
            throws Exception {
        Node n = new Node(name);
        n.cluster = ClusterCoordinator.builder()
                .deviceLocator(locator)
                .connectString(connectString)
                .nodeName(name)
                .sessionTimeout(session)
                .requestTimeout(Duration.ofSeconds(20))
                .listener(n)
                .build();
        List<BlockDevice> devices = new ArrayList<>();
        for (Path p : legs) devices.add(wrap.apply(BlockDevices.open(p)));
        n.array = Raid1Array.assemble(
                devices,
                options.apply(ArrayOptions.builder().name("md0-" + name).cluster(n.cluster))
                        .build());
        nodes.add(n);
        return n;
    }

    /** As {@link #start(String, boolean)}, finding the devices peers add with {@code locator}. */
    Node start(String name, DeviceLocator locator) throws Exception {
        return start(
                name,
                true,
                zk.connectString(),
                SESSION,
                ArrayOptions.DEFAULT_IO_WAIT,
                UnaryOperator.identity(),
                locator);
    }

    /** As {@link #start(String, DeviceLocator)}, every leg opened at assembly wrapped by {@code wrap}. */
    Node start(String name, DeviceLocator locator, UnaryOperator<BlockDevice> wrap) throws Exception {
        return start(name, true, zk.connectString(), SESSION, ArrayOptions.DEFAULT_IO_WAIT, wrap, locator);
    }

    /** An empty leg file {@code name} in the fixture's directory, as large as the array's legs. */
    Path newLeg(String name) throws IOException {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(legBytes);
        }
        return f;
    }

    /** The dev_number {@code array} gave the leg at {@code leg}. */
    static int devNumberOf(Raid1Array array, Path leg) {
        return array.mirrors().mirrors().stream()
                .filter(m -> m.name().equals(leg.toString()))
                .findFirst()
                .orElseThrow()
                .devNumber();
    }

    /** Waits until {@code n} has the leg numbered {@code dev} in sync. */
    static void awaitInSync(Node n, int dev, String what, Duration bound) throws Exception {
        Timing.waitFor(
                what,
                () -> n.array
                        .mirrors()
                        .byDevNumber(dev)
                        .map(m -> m.state() == MirrorState.IN_SYNC)
                        .orElse(false),
                bound);
    }

    /** Whether slot {@code slot} asks for {@code token} in EX (converting or waiting), as {@code observer}'s ZooKeeper shows it. */
    static boolean waitsForToken(Node observer, int slot) throws Exception {
        ZooKeeper zk = ((ZkLockManager) observer.cluster.lockManager())
                .curator()
                .getZookeeperClient()
                .getZooKeeper();
        for (LockSpaceDump.LockSpaceInfo ls :
                LockSpaceDump.read(zk, "/clustermd", "test-cluster").lockSpaces()) {
            for (LockSpaceDump.Resource r : ls.resources()) {
                if (!r.name().equals("token")) continue;
                if (Stream.concat(r.converting().stream(), r.waiting().stream())
                        .anyMatch(l -> l.slot() == slot && l.requested().equals("EX"))) return true;
            }
        }
        return false;
    }

    /** The md superblock on the leg file {@code leg}. */
    static Superblock superblock(Path leg) throws Exception {
        try (BlockDevice d = BlockDevices.open(leg)) {
            return SuperblockCodec.read(d);
        }
    }

    /** {@code length} bytes of {@code file} from {@code offset}. */
    static byte[] bytes(Path file, long offset, int length) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
            byte[] b = new byte[length];
            raf.seek(offset);
            raf.readFully(b);
            return b;
        }
    }

    /** The byte offset of chunk {@code c} in the array. */
    static long chunk(long c) {
        return c * CHUNK;
    }

    /**
     * Expires {@code n}'s ZooKeeper session at once, as ZooKeeper's own tests do: a second handle
     * attaches to the session and closes it. The node's array fences itself; survivors recover.
     */
    void expire(Node n) throws Exception {
        ZooKeeper own = ((ZkLockManager) n.cluster.lockManager())
                .curator()
                .getZookeeperClient()
                .getZooKeeper();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper dup = new ZooKeeper(
                zk.connectString(),
                10_000,
                e -> {
                    if (e.getState() == Watcher.Event.KeeperState.SyncConnected) connected.countDown();
                },
                own.getSessionId(),
                own.getSessionPasswd());
        try {
            if (!connected.await(Timing.seconds(20).toMillis(), TimeUnit.MILLISECONDS))
                throw new IllegalStateException("could not attach to the session");
        } finally {
            dup.close();
        }
    }

    /** Overwrites {@code bytes} of leg {@code leg}'s data area at array byte {@code offset} (a write that never reached it). */
    void scribble(int leg, long offset, int bytes) throws IOException {
        long dataOffset = created.dataOffset() * 512;
        try (RandomAccessFile raf = new RandomAccessFile(legs.get(leg).toFile(), "rw")) {
            raf.seek(dataOffset + offset);
            byte[] junk = new byte[bytes];
            java.util.Arrays.fill(junk, (byte) 0x5a);
            raf.write(junk);
            raf.getFD().sync();
        }
    }

    @Override
    public void close() {
        for (int i = nodes.size() - 1; i >= 0; i--) {
            try {
                nodes.get(i).array.close();
            } catch (RuntimeException e) {
                System.err.println("closing " + nodes.get(i).name + ": " + e);
            }
        }
        zk.close();
    }
}
