package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * How the data path and the {@link Mddev} callbacks serve cluster-md: writes into a window a
 * peer resyncs wait (as long as it lasts) and resume when it moves, reads go to the first in-sync leg while
 * read balancing is suspended, quiesce drains and holds I/O, and a superblock a peer wrote is
 * reloaded (md_reload_sb).
 */
class ClusterIoTest {
    @TempDir
    Path dir;

    private TestLegs legs;
    private RecordingClusterOperations ops;

    @AfterEach
    void tearDown() throws Exception {
        if (legs != null) legs.close();
    }

    private Raid1Array array(Duration ioWait) throws Exception {
        legs = new TestLegs(dir, 2, 24L << 20)
                .create(CreateOptions.builder("md-cio").assumeClean(true).build());
        ops = new RecordingClusterOperations(new AtomicLong());
        return legs.assemble(ArrayOptions.builder().cluster(ops).ioWait(ioWait).build());
    }

    @Test
    void aWriteIntoAWindowAPeerResyncsWaitsAndResumesWhenTheWindowMoves() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        ops.suspendLo = 1000;
        ops.suspendHi = 3000;
        a.write(0, AlignedBuffers.allocate(4096)); // outside: no wait
        CompletableFuture<Void> w = CompletableFuture.runAsync(() -> {
            try {
                a.write(2000 * 512, AlignedBuffers.allocate(4096));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Thread.sleep(200);
        assertThat(w).as("held while the peer resyncs the range").isNotDone();
        ops.suspendLo = 0;
        ops.suspendHi = 0;
        a.suspendedRangeChanged();
        w.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(a.stats().inFlight()).isZero();
    }

    /**
     * The window race (docs/md-cluster-protocol.md §e.5): a writer checks the window, a peer then
     * quiesces this node, announces a window over the writer's range and unquiesces, and only
     * then does the writer pass the barrier. It must not write into that window.
     */
    @Test
    void aWindowThatStartsBetweenTheCheckAndTheBarrierStillHoldsTheWrite() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(60));
        ops.afterWriteCheck.set(() -> {
            try {
                a.quiesce();
            } catch (Raid1Exception e) {
                throw new IllegalStateException(e);
            }
            ops.suspendLo = 1000;
            ops.suspendHi = 3000;
            a.unquiesce();
        });
        CompletableFuture<Void> w = CompletableFuture.runAsync(() -> {
            try {
                a.write(2000 * 512, AlignedBuffers.allocate(4096));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (ops.writeChecks.get() < 2 && !w.isDone() && System.nanoTime() < deadline) Thread.sleep(5);
        assertThat(w)
                .as("a write that met the new window after the barrier is held, not written into it")
                .isNotDone();
        assertThat(ops.writeChecks.get())
                .as("the writer looked at the window again")
                .isGreaterThanOrEqualTo(2);
        ops.suspendLo = 0;
        ops.suspendHi = 0;
        a.suspendedRangeChanged();
        w.get(60, TimeUnit.SECONDS);
        assertThat(a.stats().inFlight()).isZero();
    }

    /**
     * md's writer sleeps as long as the peer's window lasts (the window ends when the peer moves
     * it, finishes, or dies and is recovered), so the wait is not the I/O wait; the array being
     * fenced still ends it, with FENCED, and leaves nothing counted.
     */
    @Test
    void theWaitLastsAsLongAsTheWindowAndEndsWhenTheArrayIsFenced() throws Exception {
        Raid1Array a = array(Duration.ofMillis(300));
        ops.suspendLo = 0;
        ops.suspendHi = 100;
        CompletableFuture<Void> w = CompletableFuture.runAsync(() -> {
            try {
                a.write(0, AlignedBuffers.allocate(4096));
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        });
        Thread.sleep(4 * 300);
        assertThat(w)
                .as("still waiting after several I/O waits: the window is still there")
                .isNotDone();
        a.fence(FenceReason.ADMINISTRATIVE, null);
        assertThatThrownBy(() -> w.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS))
                .hasCauseInstanceOf(java.io.UncheckedIOException.class)
                .cause()
                .hasCauseInstanceOf(Raid1Exception.class)
                .satisfies(
                        e -> assertThat(((Raid1Exception) e.getCause()).code()).isEqualTo(Raid1Exception.Code.FENCED));
        assertThat(a.stats().inFlight()).isZero();
    }

    @Test
    void readsGoToTheFirstInSyncLegWhileReadBalancingIsSuspended() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        a.write(0, AlignedBuffers.allocate(1 << 20));
        Mirror first = a.mirrors().inSync().get(0);
        Mirror second = a.mirrors().inSync().get(1);
        ops.suspendReads = true;
        long before = second.stats().readsCompleted();
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (int i = 0; i < 200; i++) fs.add(a.readAsync((i % 256) * 4096L, AlignedBuffers.allocate(4096)));
        for (CompletableFuture<Void> f : fs) f.join();
        assertThat(second.stats().readsCompleted())
                .as("no read balanced to the second leg")
                .isEqualTo(before);
        ops.suspendReads = false;
        long firstBefore = first.stats().readsCompleted();
        fs.clear();
        for (int i = 0; i < 400; i++) fs.add(a.readAsync(((i * 37) % 256) * 4096L, AlignedBuffers.allocate(4096)));
        for (CompletableFuture<Void> f : fs) f.join();
        assertThat(second.stats().readsCompleted() + first.stats().readsCompleted() - before - firstBefore)
                .isEqualTo(400);
        assertThat(second.stats().readsCompleted()).as("balanced again").isGreaterThan(before);
    }

    @Test
    void quiesceDrainsAndHoldsIoUntilUnquiesce() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        a.quiesce();
        assertThat(a.arrayState()).isEqualTo(ArrayState.SUSPENDED);
        // the submitting thread itself waits while the array is quiesced (md's make_request sleeps)
        CompletableFuture<Void> w = CompletableFuture.supplyAsync(() -> a.writeAsync(0, AlignedBuffers.allocate(4096)))
                .thenCompose(f -> f);
        Thread.sleep(200);
        assertThat(w).isNotDone();
        a.unquiesce();
        w.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(a.arrayState()).isNotEqualTo(ArrayState.SUSPENDED);
    }

    /** Issue 11 item 6: an administrator's quiesce and the session hold never end each other. */
    @Test
    void theSessionHoldAndAQuiesceAreCountedSeparately() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        assertThat(a.holdForSession()).as("nothing in flight: drained").isTrue();
        a.quiesce();
        a.unquiesce();
        a.unquiesce(); // unmatched: ignored, it must not end the session hold
        assertThat(a.arrayState()).isEqualTo(ArrayState.SUSPENDED);
        CompletableFuture<Void> w = CompletableFuture.supplyAsync(() -> a.writeAsync(0, AlignedBuffers.allocate(4096)))
                .thenCompose(f -> f);
        Thread.sleep(200);
        assertThat(w).as("held by the session after the quiesce ended").isNotDone();
        a.releaseSessionHold();
        w.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);

        a.quiesce();
        a.holdForSession();
        a.releaseSessionHold();
        a.releaseSessionHold(); // idempotent
        assertThat(a.arrayState()).isEqualTo(ArrayState.SUSPENDED);
        CompletableFuture<Void> w2 = CompletableFuture.supplyAsync(
                        () -> a.writeAsync(4096, AlignedBuffers.allocate(4096)))
                .thenCompose(f -> f);
        Thread.sleep(200);
        assertThat(w2).as("held by the quiesce after the session hold ended").isNotDone();
        a.unquiesce();
        w2.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(a.arrayState()).isNotEqualTo(ArrayState.SUSPENDED);
    }

    @Test
    void aSuperblockWrittenByAPeerIsReloaded() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        Mirror leg0 = a.mirrors().byDevNumber(0).orElseThrow();
        Mirror leg1 = a.mirrors().byDevNumber(1).orElseThrow();
        // a peer failed leg 1 and wrote leg 0's superblock
        BlockDevice d = leg0.leg().device;
        Superblock sb = SuperblockCodec.read(d);
        Superblock peer = sb.toBuilder()
                .events(sb.events() + 5)
                .devRole(1, Superblock.ROLE_FAULTY)
                .build();
        SuperblockCodec.write(d, peer);
        a.reloadSuperblock(0);
        assertThat(a.mirrors().byDevNumber(1).orElseThrow().state()).isEqualTo(MirrorState.FAULTY);
        assertThat(a.events()).isEqualTo(peer.events());
        assertThat(a.degraded()).isEqualTo(1);
        ByteBuffer b = AlignedBuffers.allocate(4096);
        a.write(0, b);
        assertThat(leg1.stats().writesCompleted())
                .as("nothing more goes to the failed leg")
                .isLessThan(a.mirrors().byDevNumber(0).orElseThrow().stats().writesCompleted());
        assertThat(SuperblockCodec.read(d).events()).isGreaterThan(peer.events());
    }

    @Test
    void lesson10AReloadThatCannotApplyItsSuperblockLogsAndReturnsInsteadOfWithholdingTheAck() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        long events = a.events();
        a.reloadSuperblock(7); // no such member: md logs and returns
        BlockDevice d = a.mirrors().byDevNumber(0).orElseThrow().leg().device;
        Superblock sb = SuperblockCodec.read(d);
        // an older superblock than this node's view never rolls it back, faulty marks included
        SuperblockCodec.write(
                d,
                sb.toBuilder()
                        .events(events - 1)
                        .devRole(1, Superblock.ROLE_FAULTY)
                        .build());
        a.reloadSuperblock(0);
        assertThat(a.events()).isEqualTo(events);
        assertThat(a.mirrors().byDevNumber(1).orElseThrow().state()).isEqualTo(MirrorState.IN_SYNC);
        // the catch-up reload of a joiner reads the in-sync leg with the lowest role
        SuperblockCodec.write(
                d,
                sb.toBuilder()
                        .events(events + 3)
                        .devRole(1, Superblock.ROLE_FAULTY)
                        .build());
        a.reloadSuperblock();
        assertThat(a.events()).isEqualTo(events + 3);
        assertThat(a.mirrors().byDevNumber(1).orElseThrow().state()).isEqualTo(MirrorState.FAULTY);
    }

    @Test
    void theArrayJoinsBeforeItOpensTheBitmapAndLeavesAtClose() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(30));
        a.close();
        List<String> order =
                ops.calls.stream().map(RecordingClusterOperations.Call::method).toList();
        assertThat(order.indexOf("join")).isLessThan(order.indexOf("loadBitmaps"));
        assertThat(order).endsWith("leave");
        assertThat(ops.calls("metadataUpdateStart")).hasSameSizeAs(ops.calls("metadataUpdateFinish"));
    }
}
