package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * docs/lessons.md §67: two nodes re-add the same faulty leg at once. The re-add clears the
 * leg's stale slot headers before RE_ADD (docs/lessons.md §64); a second re-adder whose clearing
 * lands after the first one's RE_ADD zeroes the first page of every slot a peer already copied
 * onto the leg. The check that the leg is faulty, the clearing and RE_ADD go under the token, so
 * the second re-adder sees the first one's RE_ADD and is refused before it writes anything to
 * the leg. Real ZooKeeper, real leg files, three nodes in this JVM; one re-adder is held where
 * it first reads the leg, the other re-adds meanwhile.
 */
class ConcurrentReAddTest {
    private static final long LEG = 24L << 20;

    @TempDir
    Path dir;

    /**
     * Leg 0 fails, every node writes while it is out, and nodes a and b re-add it. b is held
     * where its re-add first reads the leg (its own superblock: after its first check that the
     * leg is faulty, before it clears the slot headers there) while a re-adds: a either waits
     * for the token b holds or, where the check and the clearing are outside the token, re-adds
     * the leg whole, and every peer copies its slot onto it, before b goes on. Exactly one re-add
     * succeeds, the other is refused naming the leg and why, the leg ends in sync everywhere,
     * and every live slot's first page on leg 0 is the one on leg 1.
     */
    @Test
    void ofTwoNodesReAddingTheSameFaultyLegTheSecondIsRefusedAndZeroesNoSlotAPeerCopied() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            List<HeldReads> held = new CopyOnWriteArrayList<>();
            String leg0 = c.legs.get(0).toString();
            FirstPageWrites journal = new FirstPageWrites(leg0);
            ClusterFixture.Node a = start(c, "node-a", d -> journal.wrap("node-a", d));
            ClusterFixture.Node b = start(c, "node-b", d -> {
                HeldReads h = new HeldReads(journal.wrap("node-b", d));
                held.add(h);
                return h;
            });
            ClusterFixture.Node p = start(c, "node-p", d -> journal.wrap("node-p", d));
            List<ClusterFixture.Node> nodes = List.of(a, b, p);
            FutureTask<Void> byA = reAdd(a, leg0);
            FutureTask<Void> byB = reAdd(b, leg0);
            Thread threadA = new Thread(byA, "re-add-a");
            Thread threadB = new Thread(byB, "re-add-b");
            threadA.setDaemon(true);
            threadB.setDaemon(true);
            try {
                for (ClusterFixture.Node n : nodes) n.writeBlock(ClusterFixture.chunk(1 + n.slot()), 1);
                a.array.failDevice(leg0);
                for (ClusterFixture.Node n : nodes) {
                    Timing.waitFor(
                            n.name + " has leg 0 failed",
                            () -> n.array.mirrors().byDevNumber(0).orElseThrow().state() == MirrorState.FAULTY,
                            Timing.seconds(60));
                }
                // degraded: every slot gets bits only leg 1 holds
                for (ClusterFixture.Node n : nodes) {
                    n.writeBlock(ClusterFixture.chunk(5 + 3 * n.slot()), 2);
                    n.array.bitmap().orElseThrow().flush();
                }
                Superblock sb = ClusterFixture.superblock(c.legs.get(1));
                long area = (sb.superOffset() + sb.bitmapOffset()) * 512L;
                long stride = a.array.bitmap().orElseThrow().geometry().stride();

                journal.arm(area, stride);
                long at = SuperblockCodec.byteOffset();
                held.forEach(h -> h.arm(at, at + 4096, threadB));
                threadB.start();
                Timing.waitFor(
                        "b's re-add reads leg 0",
                        () -> byB.isDone() || held.stream().anyMatch(HeldReads::holding),
                        Timing.seconds(60));
                assertThat(byB.isDone())
                        .as("b's re-add is held at its read of leg 0")
                        .isFalse();

                threadA.start();
                Timing.waitFor(
                        "a's re-add ended or waits for the token b holds",
                        () -> byA.isDone() || ClusterFixture.waitsForToken(a, a.slot()),
                        Timing.seconds(60));
                if (byA.isDone()) {
                    // a's whole re-add ran between b's check and its clearing: the peers that took
                    // the leg back copy their slots onto it before b goes on
                    for (ClusterFixture.Node n : List.of(a, p)) {
                        ClusterFixture.awaitInSync(n, 0, n.name + " has leg 0 in sync", Timing.seconds(60));
                        Timing.waitFor(
                                n.name + " copied its slot onto leg 0",
                                () -> firstPageDiffers(c, area, stride, n.slot()) == null,
                                Timing.seconds(60));
                    }
                }
                held.forEach(HeldReads::release);

                List<String> succeeded = new ArrayList<>();
                List<Raid1Exception> refused = new ArrayList<>();
                for (ClusterFixture.Node n : List.of(a, b)) {
                    FutureTask<Void> f = n == a ? byA : byB;
                    try {
                        f.get(Timing.seconds(120).toMillis(), TimeUnit.MILLISECONDS);
                        succeeded.add(n.name);
                    } catch (ExecutionException e) {
                        assertThat(e.getCause())
                                .as(n.name + "'s re-add failed otherwise")
                                .isInstanceOf(Raid1Exception.class);
                        refused.add((Raid1Exception) e.getCause());
                    }
                }
                assertThat(succeeded)
                        .as("the re-adds that succeeded: b's, which took the token first")
                        .containsExactly("node-b");
                assertThat(refused).hasSize(1);
                assertThat(refused.get(0).code()).isEqualTo(Raid1Exception.Code.BUSY);
                assertThat(refused.get(0).getMessage())
                        .as("the refusal names the leg and why")
                        .contains(leg0)
                        .contains("not faulty")
                        .contains("nothing was written");

                for (ClusterFixture.Node n : nodes) {
                    ClusterFixture.awaitInSync(n, 0, n.name + " has leg 0 in sync", Timing.seconds(60));
                }
                // a slot's first page on leg 0, once its owner copied it there, is never zeroed again
                for (ClusterFixture.Node n : nodes) {
                    List<FirstPageWrites.Write> w = journal.of(n.slot());
                    int copied = w.indexOf(new FirstPageWrites.Write(n.name, n.slot(), false));
                    assertThat(copied)
                            .as(n.name + " copied its slot onto leg 0: " + w)
                            .isNotNegative();
                    assertThat(w.subList(copied, w.size()))
                            .as("writes over slot " + n.slot() + "'s first page on leg 0 from " + n.name + "'s copy on")
                            .noneMatch(FirstPageWrites.Write::zeros);
                }
                for (ClusterFixture.Node n : nodes) {
                    try {
                        Timing.waitFor(
                                n.name + "'s slot " + n.slot() + " has the same first page on leg 0 as on leg 1",
                                () -> firstPageDiffers(c, area, stride, n.slot()) == null,
                                Timing.seconds(60));
                    } catch (AssertionError e) {
                        throw new AssertionError(
                                n.name + "'s slot " + n.slot() + ": " + firstPageDiffers(c, area, stride, n.slot()), e);
                    }
                }
            } finally {
                held.forEach(HeldReads::release);
                for (Thread t : List.of(threadA, threadB)) {
                    if (t.getState() != Thread.State.NEW)
                        t.join(Timing.seconds(120).toMillis());
                }
            }
        }
    }

    private static ClusterFixture.Node start(ClusterFixture c, String name, UnaryOperator<BlockDevice> wrap)
            throws Exception {
        return c.start(name, true, c.zk.connectString(), ClusterFixture.SESSION, ArrayOptions.DEFAULT_IO_WAIT, wrap);
    }

    private static FutureTask<Void> reAdd(ClusterFixture.Node n, String leg) {
        return new FutureTask<>(() -> {
            n.array.reAddDevice(leg);
            return null;
        });
    }

    /**
     * Every write that covers a bitmap slot's first page (its header and first bits) on one leg,
     * from any node, in the order the writes were issued, once armed: who wrote it, and whether
     * the page written was all zeros (a re-add's clearing) or not (a copy, a page write).
     */
    private static final class FirstPageWrites {
        record Write(String node, int slot, boolean zeros) {}

        private final String leg;
        private final List<Write> writes = new CopyOnWriteArrayList<>();
        private volatile long area;
        private volatile long stride;
        private volatile boolean armed;

        FirstPageWrites(String leg) {
            this.leg = leg;
        }

        /** From now on, with the bitmap area at byte {@code area} of the leg, slots {@code stride} bytes apart. */
        void arm(long area, long stride) {
            this.area = area;
            this.stride = stride;
            this.armed = true;
        }

        /** The writes over slot {@code slot}'s first page, in order. */
        List<Write> of(int slot) {
            return writes.stream().filter(w -> w.slot() == slot).toList();
        }

        BlockDevice wrap(String node, BlockDevice d) {
            if (!d.name().equals(leg)) return d;
            return new ForwardingBlockDevice(d) {
                @Override
                public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
                    if (armed) record(node, offset, src);
                    return super.writeAsync(offset, src, fua);
                }
            };
        }

        private void record(String node, long offset, ByteBuffer src) {
            long end = offset + src.remaining();
            if (end <= area) return;
            long first = Math.max(0, (offset - area + stride - 1) / stride);
            for (long slot = first; ; slot++) {
                long page = area + slot * stride;
                if (page + 4096 > end) return;
                boolean zeros = true;
                int from = src.position() + (int) (page - offset);
                for (int i = 0; i < 4096 && zeros; i++) zeros = src.get(from + i) == 0;
                writes.add(new Write(node, (int) slot, zeros));
            }
        }
    }

    /** How slot {@code slot}'s first page on leg 0 differs from leg 1's; null when it does not. */
    private static String firstPageDiffers(ClusterFixture c, long area, long stride, int slot) throws Exception {
        long from = area + slot * stride;
        byte[] returning = ClusterFixture.bytes(c.legs.get(0), from, 4096);
        byte[] inSync = ClusterFixture.bytes(c.legs.get(1), from, 4096);
        if (Arrays.equals(returning, inSync)) return null;
        return Arrays.equals(returning, new byte[4096]) ? "zeroed on leg 0" : "other bytes on leg 0";
    }
}
