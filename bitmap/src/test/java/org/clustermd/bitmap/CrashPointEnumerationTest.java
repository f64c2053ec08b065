package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.clustermd.bitmap.testing.CrashRecordingStorage;
import org.clustermd.bitmap.testing.CrashRecordingStorage.Model;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Cuts the power after every storage write and every flush of a mixed, seeded workload and
 * checks, on every image the cut could leave ({@link Model}), the bitmap's invariant:
 * <ul>
 *   <li>every write still in flight has its bit set on disk (docs/lessons.md §27, docs/lessons.md §29);</li>
 *   <li>no chunk with a failed, degraded, merged or running-resync write reads clean until a
 *       resync of it completed (docs/lessons.md §28, docs/lessons.md §30);</li>
 *   <li>a dead node's dirty chunks are in its slot or ours at every moment of copyFromSlot;</li>
 *   <li>every slot's superblock still parses, and reopening the slot marks those chunks
 *       NEEDED.</li>
 * </ul>
 * Node A (slot 0) writes, fails legs, resyncs, lazily clears, updates its superblock and
 * takes over node B's slot 1; node B writes, dies with writes in flight, and is reborn.
 */
class CrashPointEnumerationTest {
    static final int CHUNKS = 40_000; // 1-sector chunks, two 4 KiB pages per slot
    static final int[][] POOLS = {{0, 24}, {30_700, 30_740}, {39_976, 40_000}};
    static final int MIN_CRASH_POINTS = 1_000;

    static LongStream seeds() {
        return LongStream.of(1, 2, 3);
    }

    /** What one node's writes require of its slot. */
    static final class Node {
        final int[] inflight = new int[CHUNKS];
        final boolean[] needed = new boolean[CHUNKS];
        final boolean[] syncing = new boolean[CHUNKS];
        final int[] needEpoch = new int[CHUNKS];
        final int[] syncEpoch = new int[CHUNKS];
        final List<SectorRange> open = new ArrayList<>();
        final List<SectorRange> syncs = new ArrayList<>();

        boolean mustBeDirty(int c) {
            return inflight[c] > 0 || needed[c] || syncing[c];
        }

        void markNeeded(int c) {
            needed[c] = true;
            needEpoch[c]++;
        }

        void startSync(int c) {
            if (needed[c] && !syncing[c]) {
                syncing[c] = true;
                syncEpoch[c] = needEpoch[c];
            }
        }

        void endSync(int c, boolean aborted) {
            if (!syncing[c]) return;
            syncing[c] = false;
            if (!aborted && needEpoch[c] == syncEpoch[c]) needed[c] = false;
        }
    }

    final ManualClock clock = new ManualClock();
    long stride;
    Node a;
    Node b;
    boolean bAlive;
    BitSet orphans = new BitSet(); // a dead B's chunks not yet taken over
    long crashPoints;
    long images;
    long reopens;
    long seed;

    BitmapOptions options() {
        return BitmapOptions.builder().clock(clock).startDaemon(false).build();
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void everyCrashPointKeepsTheInvariant(long seedValue) throws Exception {
        seed = seedValue;
        Random r = new Random(seed);
        Random tear = new Random(seed * 31);
        CrashRecordingStorage storage = new CrashRecordingStorage("leg0", 4 * 8192);
        BitmapArea.create(storage, BitmapSuperblock.clustered(Fixtures.ARRAY, CHUNKS, 512, 4, "crash"), true);
        stride = 8192;
        WriteIntentBitmap nodeA = WriteIntentBitmap.open(storage, 0, options());
        WriteIntentBitmap nodeB = WriteIntentBitmap.open(storage, 1, options());
        a = new Node();
        b = new Node();
        bAlive = true;
        storage.listener((s, flush) -> check(s, tear));
        long events = 0;
        boolean degraded = false;
        int steps = 0;
        while (storage.operations() < MIN_CRASH_POINTS + 200 || steps < 2000) {
            steps++;
            int op = r.nextInt(100);
            if (op < 30) {
                SectorRange w = pick(r);
                nodeA.startWrite(w);
                forEach(w, c -> a.inflight[c]++);
                a.open.add(w);
            } else if (op < 52 && !a.open.isEmpty()) {
                SectorRange w = a.open.remove(r.nextInt(a.open.size()));
                boolean ok = r.nextDouble() < 0.85;
                nodeA.endWrite(w, ok);
                boolean needs = !ok || degraded;
                forEach(w, c -> {
                    a.inflight[c]--;
                    if (needs) a.markNeeded(c);
                });
            } else if (op < 64) {
                clock.advanceMillis(1000 + r.nextInt(5000));
                nodeA.daemonWork();
            } else if (op < 67) {
                degraded = !degraded;
                nodeA.setDegraded(degraded);
            } else if (op < 74) {
                long from = r.nextInt(CHUNKS);
                long s = nodeA.nextNeeded(from);
                if (s < 0) s = nodeA.nextNeeded(0);
                if (s >= 0) {
                    SyncChunk sc = nodeA.startSync(s, false);
                    forEach(sc.range(), a::startSync);
                    a.syncs.add(sc.range());
                }
            } else if (op < 80 && !a.syncs.isEmpty()) {
                SectorRange sr = a.syncs.remove(r.nextInt(a.syncs.size()));
                boolean aborted = r.nextDouble() < 0.2;
                forEach(sr, c -> {
                    nodeA.endSync(c, aborted);
                    a.endSync(c, aborted);
                });
            } else if (op < 81) {
                nodeA.closeSync();
                a.syncs.clear();
                for (int c = 0; c < CHUNKS; c++) a.endSync(c, false);
            } else if (op < 83) {
                nodeA.updateSuperblock(++events);
            } else if (op < 90 && bAlive) {
                SectorRange w = pick(r);
                nodeB.startWrite(w);
                forEach(w, c -> b.inflight[c]++);
                b.open.add(w);
            } else if (op < 94 && bAlive && !b.open.isEmpty()) {
                SectorRange w = b.open.remove(r.nextInt(b.open.size()));
                boolean ok = r.nextDouble() < 0.8;
                nodeB.endWrite(w, ok);
                forEach(w, c -> {
                    b.inflight[c]--;
                    if (!ok) b.markNeeded(c);
                });
            } else if (op < 95 && bAlive) {
                clock.advanceMillis(1000);
                nodeB.daemonWork();
            } else if (op < 97 && bAlive) {
                // B dies: its writes never end, its slot is taken over
                for (int c = 0; c < CHUNKS; c++) if (b.mustBeDirty(c)) orphans.set(c);
                bAlive = false;
                nodeB = null;
            } else if (op < 99 && !bAlive) {
                takeOver(storage, nodeA, r.nextDouble() < 0.7);
                if (orphans.isEmpty() && r.nextBoolean()) {
                    nodeB = WriteIntentBitmap.open(storage, 1, options());
                    b = new Node();
                    bAlive = true;
                }
            }
        }
        storage.listener(null);
        System.out.printf(
                "crash points checked (seed %d): %d storage operations, %d images (%s), %d reopened%n",
                seed, crashPoints, images, java.util.Arrays.toString(Model.values()), reopens);
        assertThat(crashPoints).as("distinct crash points, seed %d", seed).isGreaterThanOrEqualTo(MIN_CRASH_POINTS);
    }

    private void takeOver(CrashRecordingStorage storage, WriteIntentBitmap nodeA, boolean clear) throws Exception {
        byte[] before = storage.crashImage(Model.KEPT, null);
        BitSet inSlot = new BitSet();
        for (int c = 0; c < CHUNKS; c++) if (MemoryBitmapStorage.testBit(before, stride, c)) inSlot.set(c);
        assertThat(contains(inSlot, orphans))
                .as("seed %d: dead node's chunks are in its slot", seed)
                .isTrue();
        SlotCopy copy = nodeA.copyFromSlot(1, clear);
        assertThat(copy.dirtyChunks()).as("seed %d", seed).isEqualTo(inSlot.cardinality());
        assertThat(copy.foundDirty()).isEqualTo(!inSlot.isEmpty());
        inSlot.stream().forEach(a::markNeeded);
        if (clear) orphans.clear();
    }

    private static boolean contains(BitSet outer, BitSet inner) {
        BitSet x = (BitSet) inner.clone();
        x.andNot(outer);
        return x.isEmpty();
    }

    private void check(CrashRecordingStorage s, Random tear) {
        crashPoints++;
        for (Model m : Model.values()) {
            byte[] img = s.crashImage(m, tear);
            images++;
            String at = "seed " + seed + ", crash after operation " + s.operations() + ", model " + m;
            try {
                BitmapArea area = BitmapArea.read(MemoryBitmapStorage.of("crash", img));
                for (int slot = 0; slot < 4; slot++) area.examine(slot);
            } catch (BitmapException e) {
                throw new AssertionError(at + ": the area no longer parses: " + e.getMessage(), e);
            }
            for (int[] pool : POOLS) {
                for (int c = pool[0]; c < pool[1]; c++) {
                    if (a.mustBeDirty(c) && !MemoryBitmapStorage.testBit(img, 0, c)) {
                        throw new AssertionError(at + ": chunk " + c + " of node A reads clean (inflight "
                                + a.inflight[c] + ", needed " + a.needed[c] + ", syncing " + a.syncing[c] + ")");
                    }
                    if (bAlive && b.mustBeDirty(c) && !MemoryBitmapStorage.testBit(img, stride, c)) {
                        throw new AssertionError(at + ": chunk " + c + " of node B reads clean");
                    }
                }
            }
            for (int c = orphans.nextSetBit(0); c >= 0; c = orphans.nextSetBit(c + 1)) {
                if (!MemoryBitmapStorage.testBit(img, 0, c) && !MemoryBitmapStorage.testBit(img, stride, c)) {
                    throw new AssertionError(at + ": dead node B's chunk " + c + " is in neither slot");
                }
            }
            if (m == Model.TORN && crashPoints % 8 == 0) reopenAndCheck(img, at);
        }
    }

    /** The node restarting on this image must see every required chunk as NEEDED. */
    private void reopenAndCheck(byte[] img, String at) {
        reopens++;
        try {
            WriteIntentBitmap again = WriteIntentBitmap.open(MemoryBitmapStorage.of("reboot", img), 0, options());
            for (int[] pool : POOLS) {
                for (int c = pool[0]; c < pool[1]; c++) {
                    if ((a.mustBeDirty(c) || orphans.get(c)) && !again.chunk(c).needed()) {
                        // an orphan may still be only in B's slot; then A's reboot copies it later
                        if (orphans.get(c) && MemoryBitmapStorage.testBit(img, stride, c)) continue;
                        throw new AssertionError(at + ": after reboot chunk " + c + " is not NEEDED");
                    }
                }
            }
        } catch (BitmapException e) {
            throw new AssertionError(at + ": reopening failed: " + e.getMessage(), e);
        }
    }

    private static SectorRange pick(Random r) {
        int[] pool = POOLS[r.nextInt(POOLS.length)];
        int c = pool[0] + r.nextInt(pool[1] - pool[0]);
        int len = 1 + r.nextInt(3);
        if (c + len > pool[1]) len = pool[1] - c;
        return SectorRange.of(c, len);
    }

    private interface ChunkAction {
        void accept(int chunk) throws Exception;
    }

    private static void forEach(SectorRange range, ChunkAction f) throws Exception {
        for (long c = range.start(); c < range.end(); c++) f.accept((int) c);
    }
}
