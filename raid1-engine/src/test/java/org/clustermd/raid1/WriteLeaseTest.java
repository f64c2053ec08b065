package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.EngineThread;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 9 item 1, the engine's side: no leg write of any kind (data, bitmap page, superblock)
 * reaches a leg while the cluster's write lease is not valid. Such writes are held, not failed,
 * and go out once the lease is back; they fail only after the array fenced itself (lease
 * revoked, or invalid for the whole I/O bound). A hold never blocks an engine thread.
 */
@Timeout(value = 120, unit = TimeUnit.SECONDS, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class WriteLeaseTest {
    private static final long CHUNK = 1 << 20;

    @TempDir
    Path dir;

    private TestLegs legs;
    private RecordingClusterOperations ops;
    private final List<RecordingDevice> devices = new ArrayList<>();

    @AfterEach
    void tearDown() {
        if (ops != null) ops.lease.renew();
        if (legs != null) legs.close();
    }

    private Raid1Array array(Duration ioWait) throws Exception {
        legs = new TestLegs(dir, 2, 48L << 20)
                .create(CreateOptions.builder("md-lease")
                        .assumeClean(true)
                        .bitmapChunk(CHUNK)
                        .build());
        AtomicLong seq = new AtomicLong();
        ops = new RecordingClusterOperations(seq);
        for (BlockDevice d : legs.open()) devices.add(new RecordingDevice(d, seq));
        return legs.track(Raid1Array.assemble(
                devices, ArrayOptions.builder().cluster(ops).ioWait(ioWait).build()));
    }

    private int legWrites() {
        return devices.stream().mapToInt(d -> d.writes.size()).sum();
    }

    private static ByteBuffer block(int stamp) {
        ByteBuffer b = AlignedBuffers.allocate(4096);
        for (int i = 0; i < 4096; i += 4) b.putInt(i, stamp);
        return b;
    }

    /** Submits from a pool thread: the submitting thread itself may be held (a new bitmap bit). */
    private static CompletableFuture<Void> submit(Raid1Array a, long offset, int stamp) {
        return CompletableFuture.supplyAsync(() -> a.writeAsync(offset, block(stamp)))
                .thenCompose(f -> f);
    }

    @Test
    void noLegWriteOfAnyKindWhileTheLeaseIsInvalidAndHeldWritesGoOutWhenItIsBack() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(60));
        a.write(0, block(1));
        ops.lease.expire();
        int before = legWrites();
        // a new chunk needs its bitmap bit on the legs first; the array is made clean by a
        // superblock update after its safemode delay: every kind of leg write is asked for
        List<CompletableFuture<Void>> held = new ArrayList<>();
        for (int i = 1; i <= 8; i++) held.add(submit(a, i * CHUNK, 100 + i));
        held.add(submit(a, 4096, 2));
        Thread.sleep(500);
        assertThat(legWrites())
                .as("leg writes issued while the lease was invalid")
                .isEqualTo(before);
        assertThat(held).as("held, not failed").noneMatch(CompletableFuture::isDone);
        assertThat(a.fenceReason()).isEmpty();

        ops.lease.renew();
        for (CompletableFuture<Void> f : held) f.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(legWrites()).isGreaterThan(before);
        assertThat(a.fenceReason()).isEmpty();
        ByteBuffer back = AlignedBuffers.allocate(4096);
        a.read(3 * CHUNK, back);
        assertThat(back.getInt(0)).isEqualTo(103);
        assertThat(legs.compare().identical()).isTrue();
    }

    @Test
    void aRevokedLeaseFencesTheArrayBeforeTheHeldWritesFail() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(60));
        a.write(0, block(1));
        ops.lease.expire();
        int before = legWrites();
        CompletableFuture<Void> w = submit(a, 4096, 2);
        Thread.sleep(200);
        assertThat(w).isNotDone();
        ops.lease.revoke();
        ExecutionException e = org.junit.jupiter.api.Assertions.assertThrows(
                ExecutionException.class, () -> w.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS));
        assertThat(e.getCause())
                .isInstanceOfSatisfying(
                        Raid1Exception.class, r -> assertThat(r.code()).isEqualTo(Raid1Exception.Code.FENCED));
        assertThat(a.fenceReason()).contains(FenceReason.CLUSTER_SESSION_LOST);
        assertThat(legWrites())
                .as("nothing reached a leg after the lease ran out")
                .isEqualTo(before);
        assertThat(a.mirrors().inSync())
                .as("no leg was failed for a write that was never issued")
                .hasSize(2);
    }

    /**
     * docs/lessons.md §60: the bitmap daemon waits for its clearing page write, which the lease
     * holds, when the lease hold's own thread fences the array; the fence waits for the daemon.
     * Held writes must fail before that wait, or neither the fence nor the array's close ends.
     */
    @Test
    void aFenceFromTheHoldThreadWhileTheBitmapDaemonWaitsForAHeldPageWriteEnds() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(120));
        a.write(0, block(1)); // chunk 0's bit: the daemon clears it 2-3 daemon_sleep periods later
        ops.lease.expire();
        int before = legWrites();
        Thread daemon = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("bitmap-flush-md-lease"))
                .findFirst()
                .orElseThrow();
        long deadline = System.nanoTime() + Timing.seconds(60).toNanos();
        while (!waitsInAClearingPass(daemon) && System.nanoTime() < deadline) Thread.sleep(50);
        assertThat(waitsInAClearingPass(daemon))
                .as("the daemon waits for its page write")
                .isTrue();
        java.util.concurrent.CountDownLatch told = new java.util.concurrent.CountDownLatch(1);
        a.addListener(new ArrayListener() {
            @Override
            public void fenced(FenceReason reason, Throwable cause) {
                told.countDown(); // the fence sequence's last step
            }
        });
        ops.lease.revoke(); // the hold thread fences the array itself
        assertThat(told.await(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS))
                .as("the fence ran to its end without a close to break it")
                .isTrue();
        Thread closer = new Thread(a::close, "closer");
        closer.start();
        closer.join(Timing.seconds(60).toMillis());
        assertThat(closer.isAlive()).as("the fence and the close ended").isFalse();
        assertThat(a.fenceReason()).contains(FenceReason.CLUSTER_SESSION_LOST);
        assertThat(legWrites())
                .as("nothing reached a leg after the lease ran out")
                .isEqualTo(before);
    }

    private static boolean waitsInAClearingPass(Thread daemon) {
        boolean inPass = false;
        boolean inCommit = false;
        for (StackTraceElement e : daemon.getStackTrace()) {
            inPass |= e.getClassName().endsWith("WriteIntentBitmap")
                    && e.getMethodName().equals("pass");
            inCommit |= e.getClassName().endsWith("GroupCommit")
                    && e.getMethodName().equals("await");
        }
        return inPass && inCommit;
    }

    @Test
    void aLeaseInvalidForTheWholeIoBoundFencesTheArray() throws Exception {
        Raid1Array a = array(Duration.ofMillis(700));
        a.write(0, block(1));
        ops.lease.expire();
        int before = legWrites();
        CompletableFuture<Void> w = submit(a, 4096, 2);
        org.junit.jupiter.api.Assertions.assertThrows(
                ExecutionException.class, () -> w.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS));
        assertThat(a.fenceReason()).contains(FenceReason.LEASE_EXPIRED);
        assertThat(legWrites()).isEqualTo(before);
        assertThat(a.mirrors().inSync()).hasSize(2);
    }

    @Test
    void writesChainedFromCompletionsWhileTheLeaseIsInvalidNeitherDeadlockNorFail() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(60));
        a.write(0, block(1));
        AtomicInteger onEngineThreads = new AtomicInteger();
        CompletableFuture<Void> first = submit(a, 4096, 2);
        first.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        ops.lease.expire();
        // started on a pool thread: the first chained write's submitter waits for its bitmap bit
        CompletableFuture<Void> chain = submit(a, 2 * CHUNK, 199);
        for (int i = 1; i < 16; i++) {
            int n = i;
            chain = chain.thenCompose(v -> {
                if (EngineThread.current()) onEngineThreads.incrementAndGet();
                return a.writeAsync((n + 2) * CHUNK, block(200 + n));
            });
        }
        Thread.sleep(300);
        assertThat(chain).isNotDone();
        ops.lease.renew();
        chain.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
        assertThat(onEngineThreads.get()).as("submitted from completions").isPositive();
        assertThat(a.fenceReason()).isEmpty();
    }

    /**
     * A paused node's writes (PausedNodeTest): new chunks wait for their bitmap bits, whose page
     * write is held, and data writes of set chunks are held at their legs. When the lease is
     * revoked every request must end (failed, the array fenced) and none may stay in flight:
     * the session fence drains them and the node's close waits for them.
     */
    @Test
    void whenTheLeaseIsRevokedEveryHeldRequestEndsAndNoneStaysInFlight() throws Exception {
        Raid1Array a = array(Duration.ofSeconds(60));
        a.write(0, block(1));
        ops.lease.expire();
        int before = legWrites();
        List<CompletableFuture<Void>> held = new ArrayList<>();
        for (int i = 1; i <= 8; i++) held.add(submit(a, i * CHUNK, 100 + i));
        for (int i = 1; i <= 8; i++) held.add(submit(a, i * 4096L, 200 + i));
        Thread.sleep(500);
        assertThat(held).noneMatch(CompletableFuture::isDone);
        ops.lease.revoke();
        for (CompletableFuture<Void> f : held) {
            org.junit.jupiter.api.Assertions.assertThrows(ExecutionException.class, () -> f.get(30, TimeUnit.SECONDS));
        }
        assertThat(a.fenceReason()).contains(FenceReason.CLUSTER_SESSION_LOST);
        assertThat(legWrites())
                .as("nothing reached a leg after the lease ran out")
                .isEqualTo(before);
        assertThat(a.holdForSession())
                .as("no request stays in flight after the fence")
                .isTrue();
    }
}
