package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * docs/lessons.md §56: a thread interrupted while it waits for a conversion (md-cluster's sync
 * thread, interrupted by a node's death in the middle of a broadcast) gets its request cancelled,
 * never granted later behind its back, and can still release what it holds.
 */
class InterruptedRequestTest {
    private TestingServer server;
    private ZkTestSupport nodes;

    @BeforeEach
    void start() throws Exception {
        server = new TestingServer();
        nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10));
    }

    @AfterEach
    void stop() throws Exception {
        nodes.close();
        server.close();
    }

    private LockResource resource(String node) throws DlmException {
        return nodes.manager(node)
                .join("md0", LockSpaceOptions.of(4).withRequestTimeout(Duration.ofSeconds(30)))
                .resource("ack");
    }

    @Test
    void anInterruptedConversionIsCancelledAndNotGrantedWhenTheHolderLetsGo() throws Exception {
        LockResource holder = resource("a");
        LockResource waiter = resource("b");
        holder.convert(LockMode.CR);
        waiter.convert(LockMode.CR);
        AtomicReference<Throwable> outcome = new AtomicReference<>();
        Thread sender = new Thread(() -> {
            try {
                waiter.convert(LockMode.EX); // md's sender: ack CR to EX, waiting for the peer's CR
                outcome.set(new AssertionError("granted EX while the peer held CR"));
            } catch (Throwable t) {
                outcome.set(t);
            }
        });
        sender.start();
        long deadline = System.nanoTime() + Timing.millis(10_000) * 1_000_000L;
        while (waiter.requestedMode().isEmpty() && System.nanoTime() < deadline) Thread.sleep(5);
        assertThat(waiter.requestedMode()).as("the conversion is queued").contains(LockMode.EX);
        sender.interrupt();
        sender.join(Timing.millis(30_000));
        assertThat(sender.isAlive()).isFalse();
        assertThat(outcome.get())
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.INTERRUPTED));
        assertThat(waiter.requestedMode()).as("the conversion was cancelled").isEmpty();
        assertThat(waiter.grantedMode()).contains(LockMode.CR);

        holder.convert(LockMode.NL); // the peer lets go: a request still queued would be granted now
        // compatible with the waiter's CR, not with an EX granted behind its back
        holder.convert(LockMode.CR, Duration.ofMillis(Timing.millis(10_000)));
        assertThat(waiter.grantedMode()).contains(LockMode.CR);
        assertThat(waiter.requestedMode()).isEmpty();
    }

    @Test
    void aThreadWithItsInterruptSetStillReleasesAndKeepsTheInterrupt() throws Exception {
        LockResource r = resource("a");
        LockResource other = resource("b");
        r.convert(LockMode.EX);
        Thread.currentThread().interrupt();
        try {
            assertThat(r.convert(LockMode.NL).mode()).isEqualTo(LockMode.NL);
            assertThat(Thread.currentThread().isInterrupted()).isTrue();
        } finally {
            Thread.interrupted();
        }
        assertThat(other.convert(LockMode.EX, Duration.ofMillis(Timing.millis(10_000)))
                        .mode())
                .isEqualTo(LockMode.EX);
        assertThatThrownBy(() -> {
                    Thread.currentThread().interrupt();
                    try {
                        r.convert(LockMode.EX); // conflicts with the other's EX: cancelled, not queued
                    } finally {
                        Thread.interrupted();
                    }
                })
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.INTERRUPTED));
        assertThat(r.requestedMode()).isEmpty();
    }

    /**
     * A NOQUEUE request never waits for another holder, so an interrupt does not cut it short:
     * the safety checker's clients, interrupted while their PW went down by tryConvert, were told
     * INTERRUPTED and still read PW as held while the down-conversion went on and another node
     * was granted a mode PW excludes (docs/lessons.md §73).
     */
    @Test
    void anInterruptedNoQueueRequestEndsWithItsOutcomeAndKeepsTheInterrupt() throws Exception {
        LockResource r = resource("a");
        LockResource other = resource("b");
        r.convert(LockMode.PW);
        withInterruptKept(() -> assertThat(r.tryConvert(LockMode.CR).mode()).isEqualTo(LockMode.CR));
        assertThat(r.grantedMode()).contains(LockMode.CR);
        assertThat(r.requestedMode()).isEmpty();
        other.convert(LockMode.CW);
        withInterruptKept(() -> assertThatThrownBy(() -> r.tryConvert(LockMode.EX))
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.NOT_GRANTED)));
        assertThat(r.grantedMode()).contains(LockMode.CR);
        assertThat(r.requestedMode()).isEmpty();
    }

    private interface Call {
        void run() throws Exception;
    }

    /** Runs {@code call} with the thread's interrupt status set, checks that it was kept, and clears it. */
    private static void withInterruptKept(Call call) throws Exception {
        Thread.currentThread().interrupt();
        try {
            call.run();
            assertThat(Thread.currentThread().isInterrupted())
                    .as("the interrupt status is kept")
                    .isTrue();
        } finally {
            Thread.interrupted();
        }
    }

    /** An unlock, too, ends with the lock released, whatever the thread's interrupt status. */
    @Test
    void anInterruptedUnlockReleasesBeforeItReturns() throws Exception {
        LockResource r = resource("a");
        LockResource other = resource("b");
        r.convert(LockMode.EX);
        withInterruptKept(r::unlock);
        assertThat(r.grantedMode()).isEmpty();
        assertThat(other.tryConvert(LockMode.EX).mode()).isEqualTo(LockMode.EX);
    }

    /**
     * A cancel that finds the request already ended (granted under the lock, its delivery still
     * queued behind a slow callback) returns false only once that grant is published, so that
     * grantedMode() then tells it: the checker read the old mode there (docs/lessons.md §73).
     */
    @Test
    void aCancelThatFindsTheRequestEndedReturnsAfterItsGrantIsPublished() throws Exception {
        ZkLockResource r = (ZkLockResource) resource("a");
        r.convert(LockMode.PR);
        CountDownLatch running = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // a slow callback on a thread of its own holds the lockspace's callback queue, as a
        // user's callback would; what the lock manager completes meanwhile queues behind it
        Thread slow = new Thread(() -> r.space.underLock(out -> out.add(() -> {
            running.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        })));
        slow.start();
        try {
            assertThat(running.await(Timing.millis(10_000), TimeUnit.MILLISECONDS))
                    .isTrue();
            CompletableFuture<LockGrant> down = r.convertAsync(LockMode.NL); // granted at once, delivered late
            long deadline = System.nanoTime() + Timing.millis(10_000) * 1_000_000L;
            while (r.pending != null && System.nanoTime() < deadline) Thread.sleep(5);
            assertThat(r.pending).as("the down-conversion ended").isNull();
            Thread releaser = new Thread(() -> {
                try {
                    Thread.sleep(300); // long enough for a cancel that does not wait to return first
                } catch (InterruptedException e) {
                    return;
                }
                release.countDown();
            });
            releaser.start();
            assertThat(r.cancel()).isFalse();
            assertThat(r.grantedMode()).as("the grant the cancel found").contains(LockMode.NL);
            assertThat(down).isCompleted();
            releaser.join();
        } finally {
            release.countDown();
            slow.join();
        }
    }

    /** A cancel ends with its outcome known: the conversion withdrawn, the old mode still held. */
    @Test
    void anInterruptedCancelEndsWithTheConversionWithdrawn() throws Exception {
        LockResource r = resource("a");
        LockResource other = resource("b");
        other.convert(LockMode.PR);
        r.convert(LockMode.CR);
        var waiting = r.convertAsync(LockMode.EX);
        long deadline = System.nanoTime() + Timing.millis(10_000) * 1_000_000L;
        while (r.requestedMode().isEmpty() && System.nanoTime() < deadline) Thread.sleep(5);
        withInterruptKept(() -> assertThat(r.cancel()).isTrue());
        assertThat(waiting).isCompletedExceptionally();
        assertThat(r.grantedMode()).contains(LockMode.CR);
        assertThat(r.requestedMode()).isEmpty();
    }
}
