package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.DlmException;
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
}
