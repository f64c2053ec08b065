package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
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
import org.clustermd.raid1.ArrayListener;
import org.clustermd.raid1.AttributeChange;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A new leg added on one node while the others write (docs/md-cluster-protocol.md §e.8,
 * docs/lessons.md §14, docs/lessons.md §47): the peers hold the spare back until the adder's
 * recovery started (NEWDISK sets WAITING_FOR_SYNC, RESYNCING_START clears it) and then write to
 * it before the first chunk is copied, even with their own sync frozen; every node ends with the
 * leg in sync and the legs identical. Real ZooKeeper, real leg files, nodes in this JVM.
 */
class SpareActivationTest {
    private static final long LEG = 24L << 20;

    @TempDir
    Path dir;

    private final ExecutorService pool = Executors.newCachedThreadPool();

    @AfterEach
    void stop() {
        pool.shutdownNow();
    }

    @Test
    void aLegAddedWhileEveryNodeWritesIsRecoveredByTheAdderAndEndsIdenticalEverywhere() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan =
                    new GlobDeviceLocator(List.of(dir.resolve("new*").toString()));
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            ClusterFixture.Node d = c.start("node-d", scan);
            List<ClusterFixture.Node> all = List.of(a, b, d);
            Map<String, List<String>> passes = new ConcurrentHashMap<>();
            for (ClusterFixture.Node n : all) n.array.addListener(recoveries(n, passes));
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();
            a.array.failDevice(leg1);
            a.array.removeDevice(leg1);

            AtomicBoolean stop = new AtomicBoolean();
            List<Future<?>> writers = startWriters(all, stop);
            Thread.sleep(300);

            Path fresh = c.newLeg("new0");
            // the adder's sync starts late (md's db5e653d7c9f delayed it): frozen over the add
            a.array.syncAction(SyncAction.FROZEN);
            a.array.addDevice(BlockDevices.open(fresh));
            int dev = ClusterFixture.devNumberOf(a.array, fresh);
            // a peer that activated the spare on its own would recover it now; give it the time
            peerActivates(List.of(b, d), dev);
            assertThat(List.of(b, d))
                    .as("no peer activates the leg before the adder's sync started")
                    .allMatch(n ->
                            n.array.mirrors().byDevNumber(dev).orElseThrow().state() == MirrorState.SPARE);
            a.array.syncAction(SyncAction.IDLE);
            for (ClusterFixture.Node n : all) {
                ClusterFixture.awaitInSync(n, dev, n.name + " has the new leg in sync", Timing.seconds(90));
            }
            stop.set(true);
            for (Future<?> w : writers) w.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            for (ClusterFixture.Node n : all) n.array.awaitSyncIdle(Timing.seconds(60));

            assertThat(passes)
                    .as("only the adder's pass copied onto the new leg (recovery passes per node: %s)", passes)
                    .containsOnlyKeys("node-a");
            assertThat(Verifier.compareLegs(List.of(c.legs.get(0), fresh)).identical())
                    .isTrue();
            assertThat(all).allMatch(n -> n.cluster.messagesRefused() == 0);
        }
    }

    /**
     * A peer whose sync is frozen (an administrator's sync_action) still writes to the new leg
     * once the adder's recovery starts: md activates a spare a peer's superblock gives a role
     * inside the reload, before the peer acknowledges, whatever its own sync does
     * (docs/lessons.md §47). Activated later by its md thread (here: never, frozen), its writes
     * after the recovery copied their chunks miss the leg and the legs differ.
     */
    @Test
    void aPeerWithItsSyncFrozenWritesToTheNewLegFromTheAddersRecoveryOn() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan =
                    new GlobDeviceLocator(List.of(dir.resolve("new*").toString()));
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            List<ClusterFixture.Node> all = List.of(a, b);
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();
            a.array.failDevice(leg1);
            a.array.removeDevice(leg1);
            b.array.syncAction(SyncAction.FROZEN);

            AtomicBoolean stop = new AtomicBoolean();
            List<Future<?>> writers = startWriters(all, stop);
            Thread.sleep(300);
            Path fresh = c.newLeg("new0");
            a.array.addDevice(BlockDevices.open(fresh));
            int dev = ClusterFixture.devNumberOf(a.array, fresh);
            ClusterFixture.awaitInSync(a, dev, "a has the new leg in sync", Timing.seconds(90));
            a.array.awaitSyncIdle(Timing.seconds(60));
            Thread.sleep(500); // b writes on after the recovery
            stop.set(true);
            for (Future<?> w : writers) w.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);

            assertThat(Verifier.compareLegs(List.of(c.legs.get(0), fresh)).identical())
                    .as("the legs after b's writes")
                    .isTrue();
            assertThat(b.array.mirrors().byDevNumber(dev).orElseThrow().state().takesWrites())
                    .as("b writes to the new leg")
                    .isTrue();
        }
    }

    /**
     * A pure spare's add starts no sync, so no RESYNCING_START ever clears the peer's
     * WAITING_FOR_SYNC; when the adder then leaves gracefully (no death, no recover_slot), its
     * departure must clear it (docs/lessons.md §58). Otherwise the peer never activates a spare
     * again: a leg failing there leaves the array degraded with the spare idle.
     */
    @Test
    void aPeerActivatesTheSpareOfAnAdderThatLeftWhenOneOfItsLegsFails() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan =
                    new GlobDeviceLocator(List.of(dir.resolve("new*").toString()));
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            Path fresh = c.newLeg("new0");
            a.array.addDevice(BlockDevices.open(fresh));
            int dev = ClusterFixture.devNumberOf(a.array, fresh);
            assertThat(b.array.mirrors().byDevNumber(dev).orElseThrow().state()).isEqualTo(MirrorState.SPARE);
            assertThat(b.cluster.waitingForSync()).as("b confirmed the NEWDISK").isTrue();

            a.array.close(); // in sync: a plain leave, no BITMAP_NEEDS_SYNC
            String leg1 = b.array.mirrors().byDevNumber(1).orElseThrow().name();
            b.array.failDevice(leg1);
            ClusterFixture.awaitInSync(b, dev, "b recovered the spare into the failed leg's role", Timing.seconds(60));
            b.array.awaitSyncIdle(Timing.seconds(60));
            assertThat(b.cluster.waitingForSync()).isFalse();
            assertThat(Verifier.compareLegs(List.of(c.legs.get(0), fresh)).identical())
                    .isTrue();
        }
    }

    /** Waits a while for a peer to take the spare into a role; that it does not is what the caller checks. */
    private static void peerActivates(List<ClusterFixture.Node> peers, int dev) throws InterruptedException {
        long end = System.nanoTime() + Timing.seconds(3).toNanos();
        while (System.nanoTime() < end) {
            for (ClusterFixture.Node n : peers) {
                if (n.array
                        .mirrors()
                        .byDevNumber(dev)
                        .map(m -> m.state() != MirrorState.SPARE)
                        .orElse(false)) return;
            }
            Thread.sleep(50);
        }
    }

    /** One writer per node, each on the blocks it owns, until {@code stop}. */
    private List<Future<?>> startWriters(List<ClusterFixture.Node> all, AtomicBoolean stop) {
        List<Future<?>> writers = new ArrayList<>();
        long blocks = all.get(0).array.sizeSectors() / 8;
        for (int i = 0; i < all.size(); i++) {
            ClusterFixture.Node n = all.get(i);
            int owner = i;
            writers.add(pool.submit(() -> write(n.array, owner, all.size(), blocks, stop)));
        }
        return writers;
    }

    /** Stamped 4 KiB blocks this writer owns ({@code block % owners == owner}), anywhere, until told to stop. */
    private static Void write(Raid1Array array, int owner, int owners, long blocks, AtomicBoolean stop)
            throws Exception {
        Random r = new Random(owner);
        ByteBuffer b = AlignedBuffers.allocate(StampedBlock.SIZE);
        long id = 1;
        while (!stop.get()) {
            long block = (r.nextLong(blocks / owners)) * owners + owner;
            b.clear();
            StampedBlock.stamp(b, 0, block * 4096, owner + 1, id++);
            array.write(block * 4096, b);
            Thread.sleep(2);
        }
        return null;
    }

    /** Records, per node, every recovery pass that copied something, with what it copied. */
    private static ArrayListener recoveries(ClusterFixture.Node n, Map<String, List<String>> passes) {
        return new ArrayListener() {
            @Override
            public void attributeChanged(AttributeChange change) {
                if (change.attribute().equals(AttributeChange.SYNC_ACTION)
                        && change.oldValue().equalsIgnoreCase("recover")) {
                    n.array
                            .lastSync()
                            .filter(s -> s.bytesCopied() > 0)
                            .ifPresent(s -> passes.computeIfAbsent(
                                            n.name, k -> new java.util.concurrent.CopyOnWriteArrayList<>())
                                    .add(s.toString()));
                }
            }
        };
    }
}
