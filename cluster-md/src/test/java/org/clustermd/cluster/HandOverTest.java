package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.cluster.message.ClusterMessage;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.dlm.zk.ZkLockManager;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.ParkingLeg;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.SyncReport;
import org.clustermd.raid1.admin.Examiner;
import org.clustermd.raid1.admin.SlotReport;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.raid1.verify.Verifier;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * md-cluster's graceful hand-over (docs/md-cluster-protocol.md §c.5, §d.3) on a real ZooKeeper
 * and real leg files, nodes of one array in this JVM: a node that stops in the middle of a
 * resync sends BITMAP_NEEDS_SYNC, a peer takes its slot over once its bitmap lock is free,
 * resyncs exactly the chunks left in it, and the legs end identical; a hand-over whose slot a
 * new member took meanwhile leaves that member's bits alone (incarnations, not slots).
 */
class HandOverTest {
    private static final Duration WAIT = Timing.scaled(Duration.ofSeconds(60));
    /** KiB/s: a 1 MiB chunk takes seconds, so the resync owner is stopped in the middle. */
    private static final long CRAWL = 128;

    private static final long[] VICTIM_CHUNKS = {3, 7, 11, 15, 21, 25};

    @TempDir
    Path dir;

    /** Two peers with slow legs, a victim whose dirty chunks one of them resyncs (slowly) after its death. */
    private static final class Setup {
        final ClusterFixture.Node owner;
        final ClusterFixture.Node peer;
        final Map<String, List<ParkingLeg>> legs;

        Setup(ClusterFixture.Node owner, ClusterFixture.Node peer, Map<String, List<ParkingLeg>> legs) {
            this.owner = owner;
            this.peer = peer;
            this.legs = legs;
        }
    }

    private static Setup resyncingOwner(ClusterFixture c) throws Exception {
        Map<String, List<ParkingLeg>> legs = new ConcurrentHashMap<>();
        ClusterFixture.Node a = startSlow(c, "node-a", legs);
        ClusterFixture.Node b = startSlow(c, "node-b", legs);
        ClusterFixture.Node v = c.start("node-v", false); // its bits stay set until it dies
        for (long ch : VICTIM_CHUNKS) {
            for (int blk = 0; blk < 4; blk++)
                v.writeBlock(ClusterFixture.chunk(ch) + blk * 65536L, 100 + ch * 10 + blk);
        }
        for (long ch : VICTIM_CHUNKS) c.scribble(1, ClusterFixture.chunk(ch), 256 << 10);
        a.array.syncSpeedMax(CRAWL);
        b.array.syncSpeedMax(CRAWL);

        c.expire(v);

        await().atMost(WAIT).until(() -> a.copies.size() == 1 && b.copies.size() == 1);
        ClusterFixture.Node owner = a.copies.get(0).foundDirty() ? a : b;
        ClusterFixture.Node peer = owner == a ? b : a;
        assertThat(peer.copies.get(0).foundDirty()).isFalse();
        await().atMost(WAIT).until(() -> owner.array.syncAction() == SyncAction.RESYNC);
        peer.array.syncSpeedMax(1 << 20);
        peer.events.clear();
        return new Setup(owner, peer, legs);
    }

    private static ClusterFixture.Node startSlow(ClusterFixture c, String name, Map<String, List<ParkingLeg>> legs)
            throws Exception {
        List<ParkingLeg> mine = new ArrayList<>();
        legs.put(name, mine);
        return c.start(name, true, c.zk.connectString(), ClusterFixture.SESSION, ArrayOptions.DEFAULT_IO_WAIT, d -> {
            ParkingLeg s = new ParkingLeg(d, ParkingLeg.Parks.WRITES);
            mine.add(s);
            return s;
        });
    }

    @Test
    void resyncOwnerStopsAndAPeerTakesItsSlotOverWithBitmapNeedsSync() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, 40L << 20)) {
            Setup s = resyncingOwner(c);
            ClusterFixture.Node owner = s.owner;
            ClusterFixture.Node peer = s.peer;
            int ownerSlot = owner.slot();
            // the owner's bitmap close stalls after the hand-over: it is still a member, still
            // leaving, for as long as the test says, and the peer must wait for it, not give up
            List<ParkingLeg> ownerLegs = s.legs.get(owner.name);
            peer.onHandOver = () -> ownerLegs.forEach(ParkingLeg::stall);

            CompletableFuture<Void> closing = CompletableFuture.runAsync(owner.array::close);
            await().atMost(WAIT).until(() -> peer.events.contains("handover" + ownerSlot));
            await().atMost(WAIT).until(() -> ownerLegs.stream().anyMatch(l -> l.parked() > 0));
            assertThat(owner.cluster.state()).isEqualTo(MembershipState.LEAVING);
            // more than one of the recovery's 1 s slices with the leaver still a member in its slot
            Thread.sleep(Timing.scaled(Duration.ofSeconds(3)).toMillis());
            assertThat(peer.cluster.pendingRecoveries())
                    .as("the peer still waits for the leaver's bitmap lock")
                    .containsExactly(ownerSlot);
            ownerLegs.forEach(ParkingLeg::resume);
            closing.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
            assertThat(owner.cluster.state()).isEqualTo(MembershipState.LEFT);

            await().atMost(WAIT).until(() -> peer.copies.size() == 2);
            SlotCopy taken = peer.copies.get(1);
            assertThat(taken.slot()).isEqualTo(ownerSlot);
            assertThat(taken.foundDirty())
                    .as("the chunks the owner had not resynced yet")
                    .isTrue();
            assertThat(taken.dirtyChunks()).isBetween(1L, (long) VICTIM_CHUNKS.length);
            assertThat(peer.events).as("a hand-over, not a death").doesNotContain("slot" + ownerSlot);
            await().atMost(WAIT).until(() -> peer.cluster.pendingRecoveries().isEmpty());
            await().atMost(WAIT).until(() -> peer.array.recoveryCp() == Raid1Array.MAX_SECTOR);
            SyncReport r = peer.array.awaitSyncIdle(WAIT).orElseThrow();
            assertThat(r.completed()).isTrue();
            assertThat(r.sectorsCopied())
                    .as("exactly the chunks handed over are resynced")
                    .isEqualTo(taken.dirtyChunks() * ClusterFixture.CHUNK / 512);
            for (SlotReport sr :
                    Examiner.examine(c.legs.get(0)).bitmap().orElseThrow().slots()) {
                if (sr.slot() == ownerSlot)
                    assertThat(sr.dirty()).as("the handed-over slot is cleared").isZero();
            }
        }
        assertLegsIdenticalAndStamped();
    }

    @Test
    void aHandOverNeverTakesTheSlotOfANewMemberThatJoinedIntoIt() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try (ClusterFixture c = new ClusterFixture(dir, 3, 40L << 20)) {
            Setup s = resyncingOwner(c);
            ClusterFixture.Node owner = s.owner;
            ClusterFixture.Node peer = s.peer;
            int ownerSlot = owner.slot();
            NodeSlot slot = new NodeSlot(ownerSlot);
            try (ZkLockManager blocker = ZkLockManager.builder()
                    .connectString(c.zk.connectString())
                    .cluster("test-cluster")
                    .nodeName("blocker")
                    .build()) {
                LockSpace ls = blocker.join(c.created.uuid().toString(), LockSpaceOptions.of(3));
                // queued behind the owner's PW, ahead of the peer's hand-over request: when the
                // owner leaves, the slot's lock goes here and the peer's recovery keeps waiting
                LockResource held = ls.resource(slot.bitmapLockName());
                CompletableFuture<LockGrant> grant = held.convertAsync(LockMode.PW);
                // one session's writes are applied in order: once this later grant is here, the
                // request above is in the queue
                try (LockResource fence = ls.resource("test-fence")) {
                    fence.convert(LockMode.EX, WAIT);
                }
                assertThat(grant).isNotDone();

                owner.array.close();
                grant.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(peer.events).contains("handover" + ownerSlot);
                assertThat(peer.cluster.pendingRecoveries()).containsExactly(ownerSlot);

                // the owner comes back under its name: same slot, new incarnation; its join waits
                // for its bitmap lock behind the peer's stale request
                Future<ClusterFixture.Node> again = pool.submit(() -> c.start(owner.name, true));
                await().atMost(WAIT)
                        .until(() -> peer.cluster.pendingRecoveries().isEmpty());
                assertThat(peer.copies)
                        .as("the stale hand-over gave up the slot to its new member")
                        .hasSize(1);
                held.convert(LockMode.NL, WAIT);
                ClusterFixture.Node back = again.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                assertThat(back.slot()).isEqualTo(ownerSlot);
                back.array.awaitSyncIdle(WAIT);
                assertThat(peer.copies).hasSize(1);
                ls.close();
            }
        } finally {
            pool.shutdownNow();
        }
        assertLegsIdenticalAndStamped();
    }

    @Test
    void aLeaverHandlesNoMessageOnceItStopsReceivingAndHoldsItsBitmapLockUntilItsBitmapIsClosed() throws Exception {
        try (ClusterFixture c = new ClusterFixture(dir, 3, 24L << 20)) {
            Map<String, List<ParkingLeg>> legs = new ConcurrentHashMap<>();
            ClusterFixture.Node a = c.start("node-a", true);
            ClusterFixture.Node b = startSlow(c, "node-b", legs);
            b.writeBlock(ClusterFixture.chunk(2), 1);
            NodeSlot bSlot = new NodeSlot(b.slot());
            // b's bitmap close stalls: it is between its hand-over and the release of its locks
            b.onLeaving = () -> legs.get(b.name).forEach(ParkingLeg::stall);
            long receivedBefore = b.cluster.messagesReceived();

            CompletableFuture<Void> closing = CompletableFuture.runAsync(b.array::close);
            await().atMost(WAIT).until(() -> legs.get(b.name).stream().anyMatch(l -> l.parked() > 0));
            assertThat(b.cluster.state()).isEqualTo(MembershipState.LEAVING);
            // a peer's broadcast is neither handled by the leaver nor kept waiting for its ack
            a.cluster.channel().broadcast(new ClusterMessage.MetadataUpdated(0));
            try (ZkLockManager probe = ZkLockManager.builder()
                    .connectString(c.zk.connectString())
                    .cluster("test-cluster")
                    .nodeName("probe")
                    .build()) {
                LockSpace ls = probe.join(c.created.uuid().toString(), LockSpaceOptions.of(3));
                try (LockResource bitmap = ls.resource(bSlot.bitmapLockName())) {
                    assertThatThrownBy(() -> bitmap.tryConvert(LockMode.PW))
                            .as("the leaver's bitmap lock is held until its bitmap is closed")
                            .isInstanceOfSatisfying(
                                    DlmException.class,
                                    e -> assertThat(e.code()).isEqualTo(DlmException.Code.NOT_GRANTED));
                    legs.get(b.name).forEach(ParkingLeg::resume);
                    closing.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
                    assertThat(b.cluster.state()).isEqualTo(MembershipState.LEFT);
                    // counted once its receive thread is done with a message: it is stopped now
                    assertThat(b.cluster.messagesReceived()).isEqualTo(receivedBefore);
                    assertThat(b.cluster.messagesRefused()).isZero();
                    bitmap.tryConvert(LockMode.PW);
                    assertThat(bitmap.grantedMode()).contains(LockMode.PW);
                }
                ls.close();
            }
        }
    }

    private void assertLegsIdenticalAndStamped() throws Exception {
        List<Path> legs = List.of(dir.resolve("leg0"), dir.resolve("leg1"));
        assertThat(Verifier.compareLegs(legs).identical())
                .as("legs identical after the hand-over")
                .isTrue();
        try (Raid1Array check = Raid1Array.open(
                legs, ArrayOptions.builder().name("check").startFrozen(true).build())) {
            for (long ch : VICTIM_CHUNKS) {
                ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
                long at = ClusterFixture.chunk(ch) + 3 * 65536L;
                check.read(at, buf);
                assertThat(StampedBlock.read(buf, 0, at).writeId()).isEqualTo(100 + ch * 10 + 3);
            }
        }
    }
}
