package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.awaitility.Awaitility;
import org.clustermd.bitmap.SlotSizes;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.admin.ExamineReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.admin.SlotReport;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.testkit.Mdadm;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Growing a clustered array's size (docs/md-cluster-protocol.md §f.7, docs/lessons.md §13) on a
 * real ZooKeeper and shared leg files: every slot's bitmap covers the new size before any node
 * lets a request reach it, then every node grows at once; the region grown is resynced; a grow
 * that a slot cannot follow is refused and leaves every node, slot and superblock at the old size
 * (docs/lessons.md §13).
 */
class SizeGrowClusterTest {
    private static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stopPool() {
        pool.shutdownNow();
    }

    @Test
    void everyNodeGrowsOnceEverySlotCoversTheNewSizeWhileAllOfThemWrite() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 4, 48 * MIB, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<ClusterFixture.Node> nodes =
                    List.of(c.start("node-a", true), c.start("node-b", true), c.start("node-d", true));
            ClusterFixture.Node a = nodes.get(0);
            long old = a.array.sizeSectors();
            long grown = old + 16 * MIB / 512;
            c.scribble(1, 20 * MIB, 8192); // the legs differ beyond the old end until a resync
            AtomicBoolean writing = new AtomicBoolean(true);
            Map<Long, Long> acked = new ConcurrentHashMap<>();
            AtomicLong ids = new AtomicLong();
            List<Future<?>> writers = new ArrayList<>();
            int owners = nodes.size() * 2;
            for (int w = 0; w < owners; w++) {
                ClusterFixture.Node n = nodes.get(w / 2);
                int owner = w;
                writers.add(pool.submit(() -> {
                    writeLoop(n, owner, owners, writing, acked, ids);
                    return null;
                }));
            }
            Awaitility.await().atMost(Timing.seconds(60)).until(() -> acked.size() > 50);

            a.array.growSize(grown);

            // CHANGE_CAPACITY was acknowledged by every peer before growSize returned
            for (ClusterFixture.Node n : nodes) {
                assertThat(n.array.sizeSectors()).as(n.name).isEqualTo(grown);
                assertThat(n.array.bitmap().orElseThrow().geometry().syncSize())
                        .as(n.name)
                        .isEqualTo(grown);
            }
            assertThat(SlotSizes.syncSize(a.array.bitmap().orElseThrow(), 3))
                    .as("the free slot")
                    .isEqualTo(grown);
            // b's writers (owners 2 and 3) write into the new region, the others too
            Awaitility.await()
                    .atMost(Timing.seconds(60))
                    .until(() -> acked.keySet().stream()
                            .anyMatch(o -> o >= old * 512 && (o / StampedBlock.SIZE) % owners / 2 == 1));
            for (ClusterFixture.Node n : nodes) awaitResynced(n);
            writing.set(false);
            for (Future<?> w : writers) w.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            for (ClusterFixture.Node n : nodes) assertReadsBack(n, acked);
            for (ClusterFixture.Node n : nodes) n.array.close();
            ResyncWindowTest.assertLegsIdentical(c, grown * 512);
            assertOnDisk(c, grown);
        }
    }

    /** docs/lessons.md §50: a peer's superblock written before the grower's update does not undo the grow. */
    @Test
    void aPeersSuperblockUpdatesDuringTheGrowDoNotUndoIt() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, 48 * MIB, true, 16 * MIB, ClusterFixture.CHUNK)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            String leg = b.array.mirrors().byDevNumber(1).orElseThrow().name();
            AtomicBoolean toggling = new AtomicBoolean(true);
            Future<?> toggler = pool.submit(() -> {
                for (boolean on = true; toggling.get(); on = !on) b.array.writeMostly(leg, on);
                return null;
            });
            long size = a.array.sizeSectors();
            for (int step = 0; step < 4; step++) {
                size += 4 * MIB / 512;
                a.array.growSize(size);
                assertThat(b.array.sizeSectors()).as("step " + step).isEqualTo(size);
                for (ClusterFixture.Node n : List.of(a, b)) awaitResynced(n); // a grow waits for no sync
            }
            toggling.set(false);
            toggler.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            a.array.close();
            b.array.close();
            assertOnDisk(c, size);
        }
    }

    @Test
    void aGrowBeyondWhatTheBitmapSlotsCoverIsRefusedAndChangesNothing() throws Exception {
        // 4 KiB chunks: a 4 KiB slot covers 30720 chunks, 120 MiB; the legs would hold more
        try (ClusterFixture c = new ClusterFixture(dir, 2, 200 * MIB, true, 64 * MIB, 4096)) {
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = c.start("node-b", true);
            long old = a.array.sizeSectors();
            long events = a.array.events();
            assertThatThrownBy(() -> a.array.growSize(150 * MIB / 512))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.INVALID))
                    .hasMessageContaining("at most " + 120 * MIB / 512 + " sectors");
            assertThatThrownBy(() -> b.array.growSize(old - 8)).hasMessageContaining("shrinking");
            for (ClusterFixture.Node n : List.of(a, b)) {
                assertThat(n.array.sizeSectors()).as(n.name).isEqualTo(old);
                assertThat(n.array.events()).as(n.name).isEqualTo(events);
            }
            a.array.growSize(120 * MIB / 512); // the limit itself is fine
            assertThat(b.array.sizeSectors()).isEqualTo(120 * MIB / 512);
            a.array.close();
            b.array.close();
            assertOnDisk(c, 120 * MIB / 512);
        }
    }

    @Test
    void aPeerThatCannotResizeItsSlotRefusesTheGrowAndEveryNodeKeepsTheOldSize() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, 48 * MIB, true, 16 * MIB, ClusterFixture.CHUNK)) {
            ClusterFixture.Node a = c.start("node-a", true);
            List<FaultInjectingBlockDevice> bLegs = new ArrayList<>();
            // b's I/O wait is short: a write held in flight keeps it from quiescing for its resize
            ClusterFixture.Node b =
                    c.start("node-b", true, c.zk.connectString(), ClusterFixture.SESSION, Duration.ofSeconds(2), d -> {
                        FaultInjectingBlockDevice f = new FaultInjectingBlockDevice(d);
                        bLegs.add(f);
                        return f;
                    });
            long old = a.array.sizeSectors();
            long grown = old + 8 * MIB / 512;
            b.writeBlock(0, 1); // the bit is set: the held write below needs no bitmap write
            bLegs.get(1).setWriteLatencyMicros(Timing.seconds(6).toNanos() / 1000);
            Future<?> held = pool.submit(() -> {
                b.writeBlock(0, 2);
                return null;
            });
            Thread.sleep(300); // the write is in flight on b

            assertThatThrownBy(() -> a.array.growSize(grown))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.CLUSTER))
                    .hasMessageContaining("live slot " + b.slot())
                    .hasMessageContaining("records " + old + " sectors");

            bLegs.get(1).setWriteLatencyMicros(0);
            held.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            for (ClusterFixture.Node n : List.of(a, b)) {
                assertThat(n.array.sizeSectors()).as(n.name).isEqualTo(old);
                assertThat(n.array.bitmap().orElseThrow().geometry().syncSize())
                        .as(n.name)
                        .isEqualTo(old);
            }
            assertThat(SlotSizes.syncSize(a.array.bitmap().orElseThrow(), 2)) // docs/lessons.md §48
                    .as("the free slot, resized by the check and put back")
                    .isEqualTo(old);
            ByteBuffer block = AlignedBuffers.allocate(4096);
            assertThatThrownBy(() -> b.array.write(old * 512, block))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class,
                            e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.OUT_OF_RANGE));
            assertThat(Examiner.examine(c.legs.get(0)).superblock().size()).isEqualTo(old);

            a.array.growSize(grown); // once b can quiesce, the same grow goes through
            assertThat(b.array.sizeSectors()).isEqualTo(grown);
            a.array.close();
            b.array.close();
            assertOnDisk(c, grown);
        }
    }

    private static void awaitResynced(ClusterFixture.Node n) {
        Awaitility.await(n.name + " resynced the region grown")
                .atMost(Timing.seconds(120))
                .until(() -> n.array.syncAction() == SyncAction.IDLE
                        && n.array.recoveryCp() == Mddev.MAX_SECTOR
                        && n.array.bitmap().orElseThrow().neededChunks() == 0
                        && !n.cluster.resyncingRemote());
    }

    /** Both legs' superblocks and every bitmap slot say {@code sectors}; so does mdadm. */
    private static void assertOnDisk(ClusterFixture c, long sectors) throws Exception {
        for (Path leg : c.legs) {
            ExamineReport r = Examiner.examine(leg);
            assertThat(r.superblock().size()).as(leg.toString()).isEqualTo(sectors);
            assertThat(r.bitmap().orElseThrow().syncSize()).isEqualTo(sectors);
            for (SlotReport s : r.bitmap().orElseThrow().slots()) {
                assertThat(s.chunks())
                        .as("slot " + s.slot())
                        .isEqualTo(sectors * 512 / r.bitmap().orElseThrow().chunksize());
            }
            Map<String, String> md = Mdadm.fields(Mdadm.examine(leg));
            assertThat(md.get("Used Dev Size")).startsWith(sectors + " ");
            assertThat(md.get("Array Size")).startsWith(sectors / 2 + " ");
        }
    }

    /** Stamped 4 KiB blocks this writer owns, anywhere in the array as it is at each write. */
    private static void writeLoop(
            ClusterFixture.Node node,
            int owner,
            int owners,
            AtomicBoolean writing,
            Map<Long, Long> acked,
            AtomicLong ids)
            throws IOException {
        Random rnd = new Random(owner);
        ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
        while (writing.get()) {
            long blocks = node.array.size() / StampedBlock.SIZE;
            long block = rnd.nextLong(blocks);
            block -= Math.floorMod(block - owner, owners);
            if (block < 0) continue;
            long offset = block * StampedBlock.SIZE;
            long id = ids.incrementAndGet();
            StampedBlock.stamp(buf.clear(), 0, offset, owner, id);
            node.array.write(offset, buf);
            acked.put(offset, id);
        }
    }

    private static void assertReadsBack(ClusterFixture.Node n, Map<Long, Long> acked) throws IOException {
        ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
        for (Map.Entry<Long, Long> e : acked.entrySet()) {
            n.array.read(e.getKey(), buf.clear());
            StampedBlock.Stamp s = StampedBlock.read(buf, 0, e.getKey());
            assertThat(s).as("block at %d on %s", e.getKey(), n.name).isNotNull();
            assertThat(s.writeId()).as("block at %d on %s", e.getKey(), n.name).isEqualTo(e.getValue());
        }
    }
}
