package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.clustermd.bitmap.BitmapGeometry;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.SlotSizes;
import org.clustermd.bitmap.storage.SuperblockCodec;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node that joins while a peer grows the array, a grower that dies before every node grew, and
 * a node that joins, or a whole cluster assembled again, after that (docs/md-cluster-protocol.md
 * §f.7, docs/lessons.md §61, §62 and §65). Real ZooKeeper, real leg
 * files, nodes in this JVM. The grower is held inside its grow by its own reads: step 4 reads
 * every other slot's {@code sync_size}, and the test holds the read of the live peer's slot, so
 * the superblocks and the peer already carry the new size and nobody grew yet; or by its
 * superblock writes, which it loses when it dies, so only its own slot has the new size.
 */
class SizeGrowRaceTest {
    private static final long MIB = 1 << 20;
    private static final long LEG = 48 * MIB;

    @TempDir
    Path dir;

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stopPool() {
        pool.shutdownNow();
    }

    /**
     * docs/lessons.md §61: the joiner waits for the grow's token before it takes its slot's lock,
     * so the grower finds the slot free and resizes it, and the joiner opens it at the new size.
     * Without the rule the joiner held its slot's lock while it waited for the token, the grower
     * found a live slot at the old size and refused the grow.
     */
    @Test
    void aNodeThatJoinsWhileAPeerGrowsJoinsAtTheNewSize() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = startHeld(c, "node-a", held);
            ClusterFixture.Node b = c.start("node-b", true);
            try {
                long old = a.array.sizeSectors();
                long grown = old + 8 * MIB / 512;
                Future<?> grow = growHeldAtPeersSlot(held, c, a, b.slot(), grown);
                assertThat(ClusterFixture.superblock(c.legs.get(0)).size())
                        .as("the superblocks carry the new size")
                        .isEqualTo(grown);
                assertThat(b.array.sizeSectors()).as("nobody grew yet").isEqualTo(old);

                Future<ClusterFixture.Node> joining = pool.submit(() -> c.start("node-e", true));
                Timing.waitFor(
                        "the joiner is in the lockspace",
                        () -> b.cluster.members().size() == 3,
                        Timing.seconds(60));
                // the joiner waits for the token (without the rule, holding its slot's lock already)
                Timing.waitFor(
                        "the joiner waits for the token", () -> ClusterFixture.waitsForToken(b, 2), Timing.seconds(60));
                held.forEach(HeldReads::release);

                grow.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                ClusterFixture.Node e = joining.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                assertServes(grown, a, b, e);
                writeAndReadBeyond(e, old);
            } finally {
                held.forEach(HeldReads::release);
            }
        }
    }

    /**
     * docs/lessons.md §62: the grower's session expires between its superblock update and
     * CHANGE_CAPACITY. The survivor that recovers its slot finishes the grow: every slot checked
     * (the dead one and the free one resized), the survivor grown; a node that joins later
     * serves the new size too. Without the rule the survivor stayed prepared at the old size.
     */
    @Test
    void aGrowerThatDiesBeforeEveryNodeGrewHasItsGrowFinishedByTheSurvivor() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = startHeld(c, "node-a", held);
            ClusterFixture.Node b = c.start("node-b", true);
            try {
                long old = a.array.sizeSectors();
                long grown = old + 8 * MIB / 512;
                int deadSlot = a.slot();
                Future<?> grow = growHeldAtPeersSlot(held, c, a, b.slot(), grown);
                assertThat(b.array.bitmap().orElseThrow().geometry().syncSize())
                        .as("the peer prepared the new size")
                        .isEqualTo(grown);
                assertThat(b.array.sizeSectors()).as("and serves the old one").isEqualTo(old);

                c.expire(a);
                Timing.waitFor("the survivor grew", () -> b.array.sizeSectors() == grown, Timing.seconds(120));
                held.forEach(HeldReads::release);
                try {
                    grow.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException expected) {
                    // the dead grower's own grow fails once its reads go on: it was fenced
                }
                assertThat(SlotSizes.syncSize(b.array.bitmap().orElseThrow(), deadSlot))
                        .as("the dead grower's slot")
                        .isEqualTo(grown);
                assertThat(SlotSizes.syncSize(b.array.bitmap().orElseThrow(), 2))
                        .as("the free slot")
                        .isEqualTo(grown);
                for (Path leg : c.legs) {
                    Superblock sb = ClusterFixture.superblock(leg);
                    assertThat(sb.size()).as(leg.toString()).isEqualTo(grown);
                }
                writeAndReadBeyond(b, old);

                assertServes(grown, c.start("node-e", true));
            } finally {
                held.forEach(HeldReads::release);
            }
        }
    }

    /**
     * docs/lessons.md §62, the grower's death before its superblock update: only its own slot
     * records the new size. The survivor makes that slot record its size again before merging
     * it, so the recovery ends, and a node that joins into the slot opens it. Without the rule the
     * merge failed on the slot's sync_size and was retried for ever.
     */
    @Test
    void aGrowerThatDiesBeforeItsSuperblockUpdateHasItsSlotPutBackByTheSurvivor() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<LostSuperblockWrites> lost = new CopyOnWriteArrayList<>();
            Superblock sb = ClusterFixture.superblock(c.legs.get(0));
            long superblockAt = sb.superOffset() * 512L;
            ClusterFixture.Node a = c.start(
                    "node-a", true, c.zk.connectString(), ClusterFixture.SESSION, ArrayOptions.DEFAULT_IO_WAIT, d -> {
                        LostSuperblockWrites l = new LostSuperblockWrites(d, superblockAt);
                        lost.add(l);
                        return l;
                    });
            ClusterFixture.Node b = c.start("node-b", true);
            try {
                long old = a.array.sizeSectors();
                long grown = old + 8 * MIB / 512;
                int deadSlot = a.slot();
                lost.forEach(LostSuperblockWrites::arm);
                Future<?> grow = growInBackground(a, grown);
                Timing.waitFor(
                        "the grower writes its superblocks",
                        () -> lost.stream().anyMatch(LostSuperblockWrites::holding),
                        Timing.seconds(60));
                assertThat(SlotSizes.syncSize(b.array.bitmap().orElseThrow(), deadSlot))
                        .as("the grower's slot")
                        .isEqualTo(grown);
                assertThat(ClusterFixture.superblock(c.legs.get(0)).size()).isEqualTo(old);

                c.expire(a);
                Timing.waitFor(
                        "the survivor recovered the grower's slot",
                        () -> b.events.stream().anyMatch(e -> e.startsWith("copied" + deadSlot + ":"))
                                && b.cluster.pendingRecoveries().isEmpty(),
                        Timing.seconds(120));
                lost.forEach(LostSuperblockWrites::release);
                try {
                    grow.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException expected) {
                    // its superblock writes were lost with it
                }
                assertThat(SlotSizes.syncSize(b.array.bitmap().orElseThrow(), deadSlot))
                        .as("the grower's slot, put back")
                        .isEqualTo(old);
                assertThat(b.array.sizeSectors()).isEqualTo(old);

                ClusterFixture.Node e = c.start("node-e", true);
                assertThat(e.slot()).as("the joiner takes the grower's slot").isEqualTo(deadSlot);
                assertThat(e.array.sizeSectors()).isEqualTo(old);
                b.array.growSize(grown); // and a grow goes through from there
                assertThat(e.array.sizeSectors()).isEqualTo(grown);
            } finally {
                lost.forEach(LostSuperblockWrites::release);
            }
        }
    }

    /**
     * docs/lessons.md §65: a node joins after the grower died and before the survivor finished
     * its grow, into a free slot the grower's step 4 never reached: the superblock has the new
     * size, its slot the old one. It joins as md's joiner does, at the superblock's size, its slot
     * resized to it first (the region grown NEEDED there); the survivor's finish then finds its
     * slot covering the new size and every node grows. Without the rule the joiner was refused
     * ("a grow is unfinished").
     */
    @Test
    void aNodeThatJoinsAfterTheGrowersDeathBeforeTheSurvivorFinishedJoinsAtTheNewSize() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            List<HeldReads> survivorHeld = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = startHeld(c, "node-a", held);
            ClusterFixture.Node b = startHeld(c, "node-b", survivorHeld);
            // node-e comes back to slot 2 by its name: a free slot the grow will not have reached
            ClusterFixture.Node first = c.start("node-e", true);
            assertThat(first.slot()).isEqualTo(2);
            first.array.close();
            try {
                long old = a.array.sizeSectors();
                long grown = old + 8 * MIB / 512;
                int deadSlot = a.slot();
                Future<?> grow = growHeldAtPeersSlot(held, c, a, b.slot(), grown);
                // the survivor's recovery of the grower's slot is held where it reads the slot's size
                aim(survivorHeld, c, a, deadSlot);
                c.expire(a);
                Timing.waitFor(
                        "the survivor recovers the grower's slot",
                        () -> survivorHeld.stream().anyMatch(HeldReads::holding),
                        Timing.seconds(120));
                assertThat(b.array.sizeSectors())
                        .as("the survivor did not finish the grow yet")
                        .isEqualTo(old);

                Future<ClusterFixture.Node> joining = pool.submit(() -> c.start("node-e", true));
                ClusterFixture.Node e = joining.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                assertThat(e.slot()).isEqualTo(2);
                assertThat(e.array.sizeSectors())
                        .as("the joiner serves the superblock's size")
                        .isEqualTo(grown);
                assertThat(e.array.bitmap().orElseThrow().geometry().syncSize())
                        .as("its slot covers it")
                        .isEqualTo(grown);

                survivorHeld.forEach(HeldReads::release);
                held.forEach(HeldReads::release);
                Timing.waitFor("the survivor grew", () -> b.array.sizeSectors() == grown, Timing.seconds(120));
                try {
                    grow.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                } catch (ExecutionException expected) {
                    // the dead grower's own grow fails once its reads go on: it was fenced
                }
                for (int slot = 0; slot < 3; slot++) {
                    assertThat(SlotSizes.syncSize(b.array.bitmap().orElseThrow(), slot))
                            .as("slot %d", slot)
                            .isEqualTo(grown);
                }
                writeAndReadBeyond(e, old);
                writeAndReadBeyond(b, old + 16);
            } finally {
                survivorHeld.forEach(HeldReads::release);
                held.forEach(HeldReads::release);
            }
        }
    }

    /**
     * docs/lessons.md §65: every node dies after the grower's superblock update and before its
     * CHANGE_CAPACITY (the peer first, so no survivor finishes it), the free slot still at the old
     * size. The cluster assembled again from the legs finishes the grow: the superblock's size is
     * served, and the free slot is resized to it by the first node that gathers it. Without the
     * rule that gather failed on the slot's size and every node was refused, for good.
     */
    @Test
    void aClusterWhoseNodesAllDiedAfterTheGrowersSuperblockUpdateFinishesTheGrowWhenAssembledAgain() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            ClusterFixture.Node a = startHeld(c, "node-a", held);
            ClusterFixture.Node b = c.start("node-b", true);
            long old = a.array.sizeSectors();
            long grown = old + 8 * MIB / 512;
            try {
                Future<?> grow = growHeldAtPeersSlot(held, c, a, b.slot(), grown);
                bothDieMidGrow(c, b, a, grow, () -> held.forEach(HeldReads::release));
            } finally {
                held.forEach(HeldReads::release);
            }
            a.array.close();
            b.array.close();
            assertThat(ClusterFixture.superblock(c.legs.get(0)).size()).isEqualTo(grown);
            assertThat(slotSizeOnDisk(c, 2)).as("the free slot, on disk").isEqualTo(old);

            ClusterFixture.Node a2 = c.start("node-a", true);
            ClusterFixture.Node b2 = c.start("node-b", true);
            ClusterFixture.Node e = c.start("node-e", true);
            assertServes(grown, a2, b2, e);
            writeAndReadBeyond(e, old);
        }
    }

    /**
     * docs/lessons.md §65: every node dies before the grower's superblock update reached the
     * legs: the superblocks keep the old size, the grower's slot has the new one. The cluster
     * assembled again rolls the grow back: the grower's node, back in its slot, resizes it to the
     * superblock's size instead of refusing to open it, and a grow goes through from there.
     * Without the rule that node was refused for good, and so was any node gathering its slot.
     */
    @Test
    void aClusterWhoseNodesAllDiedBeforeTheGrowersSuperblockUpdateRollsTheGrowBackWhenAssembledAgain()
            throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG, true, 16 * MIB, ClusterFixture.CHUNK)) {
            List<LostSuperblockWrites> lost = new CopyOnWriteArrayList<>();
            Superblock sb = ClusterFixture.superblock(c.legs.get(0));
            long superblockAt = sb.superOffset() * 512L;
            ClusterFixture.Node a = c.start(
                    "node-a", true, c.zk.connectString(), ClusterFixture.SESSION, ArrayOptions.DEFAULT_IO_WAIT, d -> {
                        LostSuperblockWrites l = new LostSuperblockWrites(d, superblockAt);
                        lost.add(l);
                        return l;
                    });
            ClusterFixture.Node b = c.start("node-b", true);
            long old = a.array.sizeSectors();
            long grown = old + 8 * MIB / 512;
            int growerSlot = a.slot();
            try {
                lost.forEach(LostSuperblockWrites::arm);
                Future<?> grow = growInBackground(a, grown);
                Timing.waitFor(
                        "the grower writes its superblocks",
                        () -> lost.stream().anyMatch(LostSuperblockWrites::holding),
                        Timing.seconds(60));
                bothDieMidGrow(c, b, a, grow, () -> lost.forEach(LostSuperblockWrites::release));
            } finally {
                lost.forEach(LostSuperblockWrites::release);
            }
            a.array.close();
            b.array.close();
            assertThat(ClusterFixture.superblock(c.legs.get(0)).size()).isEqualTo(old);
            assertThat(slotSizeOnDisk(c, growerSlot))
                    .as("the grower's slot, on disk")
                    .isEqualTo(grown);

            ClusterFixture.Node a2 = c.start("node-a", true);
            assertThat(a2.slot()).isEqualTo(growerSlot);
            ClusterFixture.Node b2 = c.start("node-b", true);
            assertServes(old, a2, b2);
            b2.array.growSize(grown);
            assertThat(a2.array.sizeSectors()).isEqualTo(grown);
            writeAndReadBeyond(a2, old);
        }
    }

    /**
     * Holds {@code grower}'s reads of the peer's slot {@code peerSlot}, starts its grow to
     * {@code sectors} and returns once the grow is held there, checking that slot.
     */
    private Future<?> growHeldAtPeersSlot(
            List<HeldReads> held, ClusterFixture c, ClusterFixture.Node grower, int peerSlot, long sectors)
            throws Exception {
        aim(held, c, grower, peerSlot);
        Future<?> grow = growInBackground(grower, sectors);
        Timing.waitFor(
                "the grower checks the peer's slot",
                () -> held.stream().anyMatch(HeldReads::holding),
                Timing.seconds(60));
        return grow;
    }

    /** Every node serves {@code sectors}, and its own bitmap slot covers them. */
    private static void assertServes(long sectors, ClusterFixture.Node... nodes) {
        for (ClusterFixture.Node n : nodes) {
            assertThat(n.array.sizeSectors()).as(n.name).isEqualTo(sectors);
            assertThat(n.array.bitmap().orElseThrow().geometry().syncSize())
                    .as(n.name)
                    .isEqualTo(sectors);
        }
    }

    private Future<?> growInBackground(ClusterFixture.Node grower, long sectors) {
        return pool.submit(() -> {
            grower.array.growSize(sectors);
            return null;
        });
    }

    /**
     * Expires {@code peer} and then {@code grower}, the peer first so that no survivor finishes
     * the grow, waits until both are fenced, lets the grower's held I/O go on and waits for its
     * grow to end: it fails, fenced, or returns with its last writes lost.
     */
    private static void bothDieMidGrow(
            ClusterFixture c, ClusterFixture.Node peer, ClusterFixture.Node grower, Future<?> grow, Runnable release)
            throws Exception {
        c.expire(peer);
        c.expire(grower);
        Timing.waitFor(
                "both nodes are fenced",
                () -> grower.array.fenceReason().isPresent()
                        && peer.array.fenceReason().isPresent(),
                Timing.seconds(60));
        release.run();
        try {
            grow.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
        } catch (ExecutionException expected) {
            // fenced
        }
    }

    /** The sync_size slot {@code slot}'s header records on leg 0. */
    private static long slotSizeOnDisk(ClusterFixture c, int slot) throws Exception {
        Superblock sb = ClusterFixture.superblock(c.legs.get(0));
        long area = (sb.superOffset() + sb.bitmapOffset()) * 512L;
        BitmapSuperblock first =
                SuperblockCodec.decode(ByteBuffer.wrap(ClusterFixture.bytes(c.legs.get(0), area, 4096)), 0, "slot 0");
        long stride = BitmapGeometry.of(first).stride();
        byte[] page = ClusterFixture.bytes(c.legs.get(0), area + slot * stride, 4096);
        return SuperblockCodec.decode(ByteBuffer.wrap(page), 0, "slot " + slot).syncSize();
    }

    private static ClusterFixture.Node startHeld(ClusterFixture c, String name, List<HeldReads> held) throws Exception {
        return c.start(name, true, c.zk.connectString(), ClusterFixture.SESSION, ArrayOptions.DEFAULT_IO_WAIT, d -> {
            HeldReads h = new HeldReads(d);
            held.add(h);
            return h;
        });
    }

    /** From now on {@code a}'s reads of slot {@code slot} of the bitmap area are held until released. */
    private static void aim(List<HeldReads> held, ClusterFixture c, ClusterFixture.Node a, int slot) throws Exception {
        Superblock sb = ClusterFixture.superblock(c.legs.get(0));
        long area = (sb.superOffset() + sb.bitmapOffset()) * 512L;
        long stride = a.array.bitmap().orElseThrow().geometry().stride();
        for (HeldReads h : held) h.arm(area + slot * stride, area + (slot + 1) * stride);
    }

    /** A write beyond the old end, read back on {@code n}. */
    private static void writeAndReadBeyond(ClusterFixture.Node n, long oldSectors) throws Exception {
        ByteBuffer out = AlignedBuffers.allocate(4096);
        for (int i = 0; i < 4096; i++) out.put(i, (byte) (i * 7 + 3));
        n.array.write(oldSectors * 512 + 4096, out.clear());
        ByteBuffer in = AlignedBuffers.allocate(4096);
        n.array.read(oldSectors * 512 + 4096, in);
        assertThat(in.clear()).as(n.name).isEqualTo(out.clear());
    }

    /**
     * Once armed, every write to the md superblock never completes until released, and then
     * fails without reaching the leg: the writes a node that dies in the middle of them loses.
     */
    private static final class LostSuperblockWrites extends ForwardingBlockDevice {
        private final long at;
        private final List<CompletableFuture<Void>> pending = new CopyOnWriteArrayList<>();
        private volatile boolean armed;
        private volatile boolean released;

        LostSuperblockWrites(BlockDevice inner, long at) {
            super(inner);
            this.at = at;
        }

        void arm() {
            armed = true;
        }

        boolean holding() {
            return !pending.isEmpty();
        }

        void release() {
            released = true;
            for (CompletableFuture<Void> f : pending) f.completeExceptionally(new IOException("lost with its node"));
        }

        @Override
        public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
            if (!armed || offset != at) return inner().writeAsync(offset, src, fua);
            if (released) return CompletableFuture.failedFuture(new IOException("lost with its node"));
            CompletableFuture<Void> f = new CompletableFuture<>();
            pending.add(f);
            return f;
        }
    }
}
