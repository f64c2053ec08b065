package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.raid1.ArrayListener;
import org.clustermd.raid1.AttributeChange;
import org.clustermd.raid1.Mirror;
import org.clustermd.raid1.MirrorState;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.ForwardingBlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * md-cluster's device changes on a real ZooKeeper and shared leg files
 * (docs/md-cluster-protocol.md §f.1, §f.3, §f.4): NEWDISK confirmed, refused and timed out,
 * two adds at once, fail then remove back to back, and a re-add that recovers only the chunks
 * the nodes changed while the leg was out.
 */
class DeviceChangesTest {
    private static final long LEG = 24L << 20;

    @TempDir
    Path dir;

    @Test
    void aNewDeviceConfirmedByEveryPeerJoinsEveryNodeAndIsRecoveredOnto() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan = scan();
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            ClusterFixture.Node d = c.start("node-d", scan);
            List<ClusterFixture.Node> all = List.of(a, b, d);
            a.writeBlock(ClusterFixture.chunk(2), 1);
            b.writeBlock(ClusterFixture.chunk(9), 2);
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();

            // fail then remove back to back: REMOVE comes right after the failure's METADATA_UPDATED
            a.array.failDevice(leg1);
            a.array.removeDevice(leg1);
            for (ClusterFixture.Node n : all)
                assertThat(n.array.mirrors().byDevNumber(1)).as(n.name).isEmpty();

            Path fresh = c.newLeg("new0");
            a.array.addDevice(BlockDevices.open(fresh));
            int dev = ClusterFixture.devNumberOf(a.array, fresh);
            for (ClusterFixture.Node n : all) {
                ClusterFixture.awaitInSync(n, dev, n.name + " has the new leg in sync", Timing.seconds(60));
            }
            for (ClusterFixture.Node n : List.of(b, d))
                assertThat(n.candidates).as(n.name).containsExactly("PENDING:" + dev, "CONFIRMED:" + dev);
            for (ClusterFixture.Node n : all) n.array.awaitSyncIdle(Timing.seconds(60));
            assertThat(Verifier.compareLegs(List.of(c.legs.get(0), fresh)).identical())
                    .isTrue();
            assertThat(all).allMatch(n -> n.cluster.messagesRefused() == 0);
        }
    }

    @Test
    void anAddedLegGetsALivePeersSlotFromThatPeerOnlyAndTheFreeSlotsFromTheAdder() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan = scan();
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();
            a.array.failDevice(leg1);
            a.array.removeDevice(leg1);
            // bits in both live slots: they stay set while the array is degraded
            a.writeBlock(ClusterFixture.chunk(1), 1);
            b.writeBlock(ClusterFixture.chunk(4), 2);

            Path fresh = c.newLeg("new0");
            List<long[]> writes = new CopyOnWriteArrayList<>();
            a.array.addDevice(new RecordingWrites(BlockDevices.open(fresh), writes));
            int dev = ClusterFixture.devNumberOf(a.array, fresh);
            for (ClusterFixture.Node n : List.of(a, b)) {
                ClusterFixture.awaitInSync(n, dev, n.name + " has the new leg in sync", Timing.seconds(60));
                n.array.awaitSyncIdle(Timing.seconds(60));
            }

            Superblock sb = ClusterFixture.superblock(c.legs.get(0));
            long area = (sb.superOffset() + sb.bitmapOffset()) * 512L;
            long stride = a.array.bitmap().orElseThrow().geometry().stride();
            long bFrom = area + b.slot() * stride;
            assertThat(writes)
                    .as("a never wrote b's slot [%d, %d) on the new leg", bFrom, bFrom + stride)
                    .noneMatch(w -> w[0] < bFrom + stride && w[0] + w[1] > bFrom);
            assertThat(writes)
                    .as("a copied the free slot")
                    .anyMatch(w -> w[0] <= area + 2 * stride && w[0] + w[1] >= area + 3 * stride);
            for (int slot = 0; slot < 3; slot++) {
                long from = area + slot * stride;
                Timing.waitFor(
                        "slot " + slot + " is the same on leg0 and the new leg",
                        () -> java.util.Arrays.equals(
                                ClusterFixture.bytes(c.legs.get(0), from, (int) stride),
                                ClusterFixture.bytes(fresh, from, (int) stride)),
                        Timing.seconds(30));
            }
        }
    }

    @Test
    void raidDisksGrownOnOneNodeGiveEveryNodeTheNewRoleRecoveredOntoTheSpare() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            DeviceLocator scan = scan();
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            a.writeBlock(ClusterFixture.chunk(3), 1);
            Path fresh = c.newLeg("new0");
            a.array.addDevice(BlockDevices.open(fresh));
            int dev = ClusterFixture.devNumberOf(a.array, fresh);
            assertThat(b.array.mirrors().byDevNumber(dev).orElseThrow().state()).isEqualTo(MirrorState.SPARE);

            b.array.growRaidDisks(3);
            for (ClusterFixture.Node n : List.of(a, b)) {
                assertThat(n.array.raidDisks()).as(n.name).isEqualTo(3);
                Timing.waitFor(
                        n.name + " has the spare in sync in role 2",
                        () -> n.array
                                .mirrors()
                                .byDevNumber(dev)
                                .map(m -> m.state() == MirrorState.IN_SYNC && m.role() == 2)
                                .orElse(false),
                        Timing.seconds(60));
                n.array.awaitSyncIdle(Timing.seconds(60));
            }
            assertThat(ClusterFixture.superblock(c.legs.get(0)).raidDisks()).isEqualTo(3);
            assertThat(Verifier.compareLegs(List.of(c.legs.get(0), c.legs.get(1), fresh))
                            .identical())
                    .isTrue();
            assertThatThrownBy(() -> a.array.growRaidDisks(2))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY))
                    .hasMessageContaining("holds role 2");
            for (ClusterFixture.Node n : List.of(a, b))
                assertThat(n.array.raidDisks()).as(n.name).isEqualTo(3);
        }
    }

    @Test
    void aPeerThatCannotFindTheDeviceRefusesTheAddAndNothingChanges() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG)) {
            ClusterFixture.Node a = c.start("node-a", scan());
            ClusterFixture.Node b = c.start("node-b", DeviceLocator.NONE);
            long events = onDiskEvents(c.legs.get(0));
            Path fresh = c.newLeg("new0");
            BlockDevice device = BlockDevices.open(fresh);
            try {
                assertThatThrownBy(() -> a.array.addDevice(device))
                        .isInstanceOfSatisfying(
                                Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.CLUSTER))
                        .hasMessageContaining("not every node found device");
            } finally {
                device.close();
            }
            for (ClusterFixture.Node n : List.of(a, b))
                assertThat(n.array.mirrors().mirrors()).as(n.name).hasSize(2);
            assertThat(b.candidates).containsExactly("NOT_FOUND:2");
            assertThat(onDiskEvents(c.legs.get(0))).isEqualTo(events);
            assertThat(a.array.events()).isEqualTo(events);
            assertThat(b.array.events()).isEqualTo(events);
        }
    }

    @Test
    void aPeerWhoseLookupNeverAnswersTimesOutAndEveryConfirmedCandidateIsCancelled() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        DeviceLocator scan = scan();
        DeviceLocator hangsFirst = (array, device) -> {
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return scan.locate(array, device);
        };
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            ClusterFixture.Node d = c.start("node-d", hangsFirst);
            Path fresh = c.newLeg("new0");
            BlockDevice device = BlockDevices.open(fresh);
            try {
                assertThatThrownBy(() -> a.array.addDevice(device))
                        .isInstanceOf(Raid1Exception.class)
                        .hasMessageContaining("not every node found device");
            } finally {
                device.close();
            }
            assertThat(b.candidates).containsExactly("PENDING:2", "CANCELLED:2");
            assertThat(d.candidates).containsExactly("NOT_FOUND:2");
            for (ClusterFixture.Node n : List.of(a, b, d))
                assertThat(n.array.mirrors().mirrors()).as(n.name).hasSize(2);

            // every node voted again after the cancel: with d answering, the same device is added
            release.countDown();
            a.array.addDevice(BlockDevices.open(fresh));
            for (ClusterFixture.Node n : List.of(b, d))
                assertThat(n.array.mirrors().byDevNumber(2)).as(n.name).isPresent();
        } finally {
            release.countDown();
        }
    }

    @Test
    void aNodeThatConfirmedAnAddItsAdderNeverSettledStillVetoesTheNextOne() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG)) {
            ClusterFixture.Node a = c.start("node-a", scan());
            ClusterFixture.Node b = c.start("node-b", scan());
            // an adder that dies after NEWDISK: the device is announced, found, and never committed
            Path orphan = c.newLeg("new-orphan");
            UUID orphanUuid = UUID.randomUUID();
            try (BlockDevice d = BlockDevices.open(orphan)) {
                SuperblockCodec.write(
                        d,
                        ClusterFixture.superblock(c.legs.get(0)).toBuilder()
                                .deviceUuid(orphanUuid)
                                .devNumber(2)
                                .build());
            }
            a.cluster.channel().broadcast(new ClusterMessage.NewDisk(orphanUuid, 2));
            assertThat(b.candidates).containsExactly("PENDING:2");

            // the next add names a device b cannot find: b's veto must count again
            Path hidden = c.newLeg("hidden0");
            BlockDevice device = BlockDevices.open(hidden);
            try {
                assertThatThrownBy(() -> a.array.addDevice(device))
                        .isInstanceOf(Raid1Exception.class)
                        .hasMessageContaining("not every node found device");
            } finally {
                device.close();
            }
            assertThat(b.candidates).containsExactly("PENDING:2", "CANCELLED:2", "NOT_FOUND:2");
            for (ClusterFixture.Node n : List.of(a, b))
                assertThat(n.array.mirrors().mirrors()).as(n.name).hasSize(2);

            // a candidate still pending when its node leaves is let go, not left open
            a.cluster.channel().broadcast(new ClusterMessage.NewDisk(orphanUuid, 2));
            b.array.close();
            assertThat(b.candidates).endsWith("PENDING:2", "CANCELLED:2");
        }
    }

    @Test
    void twoNodesAddingAtOnceAreSerializedByTheTokenIntoOneViewOfTheMembers() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG)) {
            DeviceLocator scan = scan();
            ClusterFixture.Node a = c.start("node-a", scan);
            ClusterFixture.Node b = c.start("node-b", scan);
            BlockDevice forA = BlockDevices.open(c.newLeg("new-a"));
            BlockDevice forB = BlockDevices.open(c.newLeg("new-b"));
            CountDownLatch go = new CountDownLatch(1);
            CompletableFuture<Optional<Raid1Exception>> addA = addAsync(a.array, forA, go);
            CompletableFuture<Optional<Raid1Exception>> addB = addAsync(b.array, forB, go);
            go.countDown();
            List<Optional<Raid1Exception>> outcomes =
                    List.of(addA.get(120, TimeUnit.SECONDS), addB.get(120, TimeUnit.SECONDS));
            // the token orders the adds, and each picks its desc_nr under it from a view that holds the other
            assertThat(outcomes)
                    .as("both adds went through, one after the other: %s", outcomes)
                    .allMatch(Optional::isEmpty);
            Map<Integer, UUID> viewA = view(a.array);
            assertThat(viewA).hasSize(4).containsValues(uuidOf(forA), uuidOf(forB));
            assertThat(view(b.array)).isEqualTo(viewA);
        }
    }

    @Test
    void removingALegThatStillTakesWritesIsRefusedBeforeAnyMessage() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 2, LEG)) {
            ClusterFixture.Node a = c.start("node-a", DeviceLocator.NONE);
            ClusterFixture.Node b = c.start("node-b", DeviceLocator.NONE);
            long sent = a.cluster.messagesSent();
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();
            assertThatThrownBy(() -> a.array.removeDevice(leg1))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class, e -> assertThat(e.code()).isEqualTo(Raid1Exception.Code.BUSY))
                    .hasMessageContaining("fail it before removing it");
            assertThat(a.cluster.messagesSent()).isEqualTo(sent);
            for (ClusterFixture.Node n : List.of(a, b))
                assertThat(n.array.mirrors().byDevNumber(1).orElseThrow().state())
                        .as(n.name)
                        .isEqualTo(MirrorState.IN_SYNC);
        }
    }

    @Test
    void aReAddAfterWritesOnOtherNodesRecoversOnlyTheChangedChunks() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, LEG)) {
            ClusterFixture.Node a = c.start("node-a", DeviceLocator.NONE);
            ClusterFixture.Node b = c.start("node-b", DeviceLocator.NONE);
            ClusterFixture.Node d = c.start("node-d", DeviceLocator.NONE);
            List<ClusterFixture.Node> all = List.of(a, b, d);
            AtomicLong recovered = new AtomicLong();
            for (ClusterFixture.Node n : all) n.array.addListener(recoveredBytes(n.array, recovered));
            String leg1 = a.array.mirrors().byDevNumber(1).orElseThrow().name();
            a.array.failDevice(leg1);

            b.writeBlock(ClusterFixture.chunk(3), 1);
            b.writeBlock(ClusterFixture.chunk(7), 2);
            d.writeBlock(ClusterFixture.chunk(11), 3);
            a.writeBlock(ClusterFixture.chunk(15), 4);

            a.array.reAddDevice(leg1);
            for (ClusterFixture.Node n : all) {
                Timing.waitFor(
                        n.name + " has leg 1 in sync",
                        () -> n.array.mirrors().byDevNumber(1).orElseThrow().state() == MirrorState.IN_SYNC,
                        Timing.seconds(60));
            }
            for (ClusterFixture.Node n : all) n.array.awaitSyncIdle(Timing.seconds(60));
            assertThat(recovered.get()).isEqualTo(4 * ClusterFixture.CHUNK);
            assertThat(Verifier.compareLegs(c.legs).identical()).isTrue();
            assertThat(all).allMatch(n -> n.cluster.messagesRefused() == 0);
        }
    }

    // ------------------------------------------------------------------ helpers

    private DeviceLocator scan() {
        return new GlobDeviceLocator(List.of(dir.resolve("new*").toString()));
    }

    private static UUID uuidOf(BlockDevice d) throws Exception {
        try (BlockDevice r = BlockDevices.open(Path.of(d.name()))) {
            return SuperblockCodec.read(r).deviceUuid();
        }
    }

    private static Map<Integer, UUID> view(Raid1Array array) {
        Map<Integer, UUID> out = new TreeMap<>();
        for (Mirror m : array.mirrors().mirrors()) {
            assertThat(out.put(m.devNumber(), m.deviceUuid()))
                    .as("dev_number " + m.devNumber())
                    .isNull();
        }
        return out;
    }

    private static long onDiskEvents(Path leg) throws Exception {
        try (BlockDevice d = BlockDevices.open(leg)) {
            return SuperblockCodec.read(d).events();
        }
    }

    private static CompletableFuture<Optional<Raid1Exception>> addAsync(
            Raid1Array array, BlockDevice device, CountDownLatch go) {
        return CompletableFuture.supplyAsync(() -> {
            try {
                go.await();
                array.addDevice(device);
                return Optional.empty();
            } catch (Raid1Exception e) {
                return Optional.of(e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(e);
            }
        });
    }

    /** Adds up the bytes each finished recovery pass copied. */
    private static ArrayListener recoveredBytes(Raid1Array array, AtomicLong sum) {
        return new ArrayListener() {
            @Override
            public void attributeChanged(AttributeChange change) {
                if (change.attribute().equals(AttributeChange.SYNC_ACTION)
                        && change.oldValue().equalsIgnoreCase("recover")) {
                    array.lastSync().ifPresent(r -> sum.addAndGet(r.bytesCopied()));
                }
            }
        };
    }

    /** Records the byte range of every write ({offset, length}); passes everything on. */
    private static final class RecordingWrites extends ForwardingBlockDevice {
        private final List<long[]> writes;

        RecordingWrites(BlockDevice inner, List<long[]> writes) {
            super(inner);
            this.writes = writes;
        }

        @Override
        public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
            writes.add(new long[] {offset, src.remaining()});
            return super.writeAsync(offset, src, fua);
        }
    }

    private static void closeQuietly(BlockDevice d) {
        try {
            d.close();
        } catch (Exception e) {
            // test cleanup
        }
    }
}
