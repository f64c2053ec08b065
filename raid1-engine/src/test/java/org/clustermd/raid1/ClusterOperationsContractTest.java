package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.clustermd.bitmap.BitmapArea;
import org.clustermd.bitmap.BitmapOptions;
import org.clustermd.bitmap.BitmapSuperblock;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The contract every {@link ClusterOperations} keeps when its node is alone in the cluster (the
 * multi-node behaviour is cluster-md's to test). cluster-md runs it against its coordinator
 * through the raid1-engine test-jar: subclass and implement {@link #newOperations}.
 */
public abstract class ClusterOperationsContractTest {
    /** Liveness bound for calls that must not hang; generous, it is not a timing assertion. */
    private static final Duration LIVENESS = Timing.seconds(30);

    private static final long CHUNK = 64 * 1024;
    private static final long SYNC_SIZE = 64 * 1024 * 1024 / 512;

    private final List<ClusterOperations> made = new ArrayList<>();
    private final List<AutoCloseable> closeables = new ArrayList<>();

    /**
     * A fresh implementation for one array, not joined yet; this node is the only member. The
     * test calls {@link ClusterOperations#leave} at the end.
     */
    protected abstract ClusterOperations createOperations(UUID arrayUuid, String clusterName) throws Exception;

    private ClusterOperations newOperations(UUID uuid) throws Exception {
        ClusterOperations ops = createOperations(uuid, "contract");
        made.add(ops);
        return ops;
    }

    @AfterEach
    void leaveAll() throws Exception {
        for (ClusterOperations ops : made) ops.leave(true);
        for (AutoCloseable c : closeables) c.close();
    }

    private RecordingMddev mddev(UUID uuid) {
        return new RecordingMddev("md-contract", uuid, "contract");
    }

    private ClusterOperations joined(int nodes, RecordingMddev m) throws Exception {
        ClusterOperations ops = newOperations(m.uuid());
        assertTimeoutPreemptively(LIVENESS, () -> ops.join(m, nodes));
        return ops;
    }

    @Test
    void joinGivesASlotBelowNodes() throws Exception {
        ClusterOperations ops = joined(4, mddev(UUID.randomUUID()));
        assertThat(ops.slotNumber()).isBetween(0, 3);
    }

    @Test
    void slotNumberBeforeJoinIsAProgrammingError() throws Exception {
        ClusterOperations ops = newOperations(UUID.randomUUID());
        assertThatThrownBy(ops::slotNumber).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void nothingIsResyncingOnAnIdleCluster() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        assertThat(ops.areaResyncing(ClusterOperations.Direction.WRITE, 0, SYNC_SIZE))
                .isFalse();
        assertThat(ops.areaResyncing(ClusterOperations.Direction.READ, 0, SYNC_SIZE))
                .isFalse();
        assertThat(ops.resyncingRemote()).isFalse();
    }

    @Test
    void areaResyncingAnswersWhileAnotherThreadHoldsTheMetadataLock() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        ops.metadataUpdateStart();
        try {
            boolean answer = CompletableFuture.supplyAsync(
                            () -> ops.areaResyncing(ClusterOperations.Direction.WRITE, 0, 8))
                    .get(LIVENESS.toSeconds(), TimeUnit.SECONDS);
            assertThat(answer).isFalse();
        } finally {
            ops.metadataUpdateFinish(0);
        }
    }

    @Test
    void metadataUpdatesCanBeFinishedOrCancelledRepeatedly() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        assertTimeoutPreemptively(LIVENESS, () -> {
            for (int i = 0; i < 3; i++) {
                ops.metadataUpdateStart();
                ops.metadataUpdateFinish(0);
                ops.metadataUpdateStart();
                ops.metadataUpdateCancel();
            }
        });
    }

    @Test
    void aResyncPassAnnouncesItsWindowsAndFinishes() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        assertTimeoutPreemptively(LIVENESS, () -> {
            ops.resyncStart();
            ops.resyncStartNotify();
            ops.resyncInfoUpdate(0, 65536);
            ops.resyncInfoUpdate(65536, 131072);
            assertThat(ops.resyncingRemote())
                    .as("our own resync is not a remote one")
                    .isFalse();
            ops.resyncFinish(false);
            ops.resyncStart();
            ops.resyncFinish(true);
        });
    }

    @Test
    void anInterruptedResyncStartNeverHangs() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        assertTimeoutPreemptively(LIVENESS, () -> {
            Thread.currentThread().interrupt();
            try {
                ops.resyncStart();
                Thread.interrupted();
                ops.resyncFinish(true); // it was granted after all: release it
            } catch (InterruptedException expected) {
                // nothing held
            }
        });
        assertThat(Thread.interrupted()).isFalse();
    }

    @Test
    void aLoneNodeAddsAndRemovesDisks() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        assertTimeoutPreemptively(LIVENESS, () -> {
            assertThat(ops.addNewDisk(UUID.randomUUID(), () -> 2)).isEqualTo(2);
            ops.metadataUpdateStart();
            ops.metadataUpdateFinish(0);
            assertThat(ops.addNewDisk(UUID.randomUUID(), () -> 3)).isEqualTo(3);
            ops.addNewDiskCancel();
            ops.removeDisk(3);
        });
    }

    @Test
    void loadBitmapsMergesTheDirtyBitsOfAFreeSlot() throws Exception {
        UUID uuid = UUID.randomUUID();
        RecordingMddev m = mddev(uuid);
        MemoryBitmapStorage storage = area(uuid);
        ClusterOperations ops = joined(2, m);
        int own = ops.slotNumber();
        int other = 1 - own;
        dirty(storage, other, 40 * CHUNK / 512);

        WriteIntentBitmap b = open(storage, own);
        m.bitmap(b);
        assertThat(b.neededChunks()).isZero();
        assertTimeoutPreemptively(LIVENESS, () -> ops.loadBitmaps(b));
        assertThat(b.neededChunks())
                .as("the free slot's dirty chunk is ours to resync")
                .isEqualTo(1);
        assertThat(b.chunk(40).needed()).isTrue();
        assertThat(m.recoveryCp()).isEqualTo(40 * CHUNK / 512);
    }

    @Test
    void gatherBitmapsMergesOtherSlotsWithoutClearingThem() throws Exception {
        Joined j = joinedWithChunk7DirtyInTheOtherSlot();
        ClusterOperations ops = j.ops();
        WriteIntentBitmap b = j.own();

        assertTimeoutPreemptively(LIVENESS, () -> ops.gatherBitmaps(1, b));
        assertThat(b.chunk(7).needed()).isTrue();
        assertThat(BitmapArea.read(j.storage()).examine(j.otherSlot()).dirtyChunks())
                .as("re-add does not clear the source")
                .isEqualTo(1);
    }

    /** docs/lessons.md §67: a re-add refused by its check under the metadata lock merges nothing. */
    @Test
    void aReAddWhoseCheckRefusesItMergesNothingAndThrowsTheCheck() throws Exception {
        Joined j = joinedWithChunk7DirtyInTheOtherSlot();
        ClusterOperations ops = j.ops();
        WriteIntentBitmap b = j.own();
        Raid1Exception refusal = new Raid1Exception(Raid1Exception.Code.BUSY, "leg is not faulty");

        assertThatThrownBy(() -> assertTimeoutPreemptively(
                        LIVENESS,
                        () -> ops.gatherBitmaps(
                                1,
                                () -> {
                                    throw refusal;
                                },
                                b)))
                .isSameAs(refusal);
        assertThat(b.chunk(7).needed()).as("nothing merged").isFalse();
        // the metadata lock was given back: the next re-add goes through
        assertTimeoutPreemptively(LIVENESS, () -> ops.gatherBitmaps(1, () -> {}, b));
        assertThat(b.chunk(7).needed()).isTrue();
    }

    private record Joined(ClusterOperations ops, MemoryBitmapStorage storage, WriteIntentBitmap own, int otherSlot) {}

    /** Two slots, ours joined and its bitmap loaded, then chunk 7 dirtied in the other slot. */
    private Joined joinedWithChunk7DirtyInTheOtherSlot() throws Exception {
        UUID uuid = UUID.randomUUID();
        RecordingMddev m = mddev(uuid);
        MemoryBitmapStorage storage = area(uuid);
        ClusterOperations ops = joined(2, m);
        int own = ops.slotNumber();
        WriteIntentBitmap b = open(storage, own);
        m.bitmap(b);
        ops.loadBitmaps(b);
        dirty(storage, 1 - own, 7 * CHUNK / 512);
        return new Joined(ops, storage, b, 1 - own);
    }

    @Test
    void leaveEndsTheMembership() throws Exception {
        ClusterOperations ops = joined(2, mddev(UUID.randomUUID()));
        ops.leave(true);
        ops.leave(true);
        assertThatThrownBy(ops::metadataUpdateStart)
                .isInstanceOfSatisfying(
                        Raid1Exception.class,
                        e -> assertThat(e.code()).isIn(Raid1Exception.Code.CLOSED, Raid1Exception.Code.CLUSTER));
    }

    // ---- helpers

    private MemoryBitmapStorage area(UUID uuid) throws Exception {
        MemoryBitmapStorage s = new MemoryBitmapStorage("contract-area", 64 * 1024);
        BitmapArea.create(s, BitmapSuperblock.clustered(uuid, SYNC_SIZE, CHUNK, 2, "contract"), true);
        return s;
    }

    private WriteIntentBitmap open(MemoryBitmapStorage s, int slot) throws Exception {
        WriteIntentBitmap b = WriteIntentBitmap.open(
                s,
                slot,
                BitmapOptions.builder()
                        .name("contract-" + slot)
                        .startDaemon(false)
                        .recoveryCp(Long.MAX_VALUE)
                        .build());
        closeables.add(b);
        return b;
    }

    /** Leaves the chunk holding {@code sector} dirty on disk in {@code slot}, as a crashed node would. */
    private static void dirty(MemoryBitmapStorage s, int slot, long sector) throws Exception {
        WriteIntentBitmap b = WriteIntentBitmap.open(
                s,
                slot,
                BitmapOptions.builder()
                        .name("peer-" + slot)
                        .startDaemon(false)
                        .recoveryCp(Long.MAX_VALUE)
                        .build());
        b.startWrite(sector, 8);
        b.endWrite(sector, 8, false);
        b.close();
    }
}
