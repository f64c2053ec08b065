package org.clustermd.dlm;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link LockSpace} implementation must have (docs/design.md §3). Subclasses supply
 * members of one lockspace and a way to wait until a request is queued.
 */
public abstract class LockSpaceContractTest {
    protected static final Duration WAIT = Timing.scaled(Duration.ofSeconds(20));
    private final List<AutoCloseable> toClose = new ArrayList<>();

    /** A new member (its own session) of the lockspace {@code name}. */
    protected abstract LockSpace join(String node, String name, LockSpaceListener listener) throws Exception;

    /** Waits until {@code r}'s request is queued at the lock manager (not merely sent). */
    protected abstract void awaitQueued(LockResource r) throws Exception;

    protected LockSpace join(String node) throws Exception {
        LockSpace ls = join(node, "contract", new LockSpaceListener() {});
        toClose.add(ls);
        return ls;
    }

    @AfterEach
    void closeAll() throws Exception {
        Collections.reverse(toClose);
        for (AutoCloseable c : toClose) {
            c.close();
        }
    }

    private static LockValueBlock lvb(int first) {
        byte[] b = new byte[LockValueBlock.DEFAULT_SIZE];
        b[0] = (byte) first;
        b[63] = (byte) (first + 1);
        return LockValueBlock.of(b);
    }

    private static <T> T get(CompletableFuture<T> f) throws Exception {
        return f.get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
    }

    @Test
    void grantedRequestIsHeldUntilUnlocked() throws Exception {
        LockSpace a = join("a");
        LockResource r = a.resource("res");
        assertThat(r.grantedMode()).isEmpty();
        LockGrant g = r.convert(LockMode.PW);
        assertThat(g.mode()).isEqualTo(LockMode.PW);
        assertThat(r.grantedMode()).contains(LockMode.PW);
        assertThat(r.fencingToken()).isEqualTo(g.fencingToken()).isPositive();
        r.unlock();
        assertThat(r.grantedMode()).isEmpty();
    }

    @Test
    void noQueueFailsAtOnceAndLeavesTheLockAsItWas() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        ra.convert(LockMode.EX);
        rb.convert(LockMode.NL);
        assertThatThrownBy(() -> rb.tryConvert(LockMode.CR))
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.NOT_GRANTED));
        assertThat(rb.grantedMode()).contains(LockMode.NL);
        ra.convert(LockMode.CR);
        assertThat(rb.tryConvert(LockMode.CR).mode()).isEqualTo(LockMode.CR);
    }

    @Test
    void cancelWithdrawsAWaitingConversionWhichKeepsItsGrantedMode() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        ra.convert(LockMode.PR);
        rb.convert(LockMode.CR);
        CompletableFuture<LockGrant> waiting = rb.convertAsync(LockMode.EX);
        awaitQueued(rb);
        assertThat(rb.cancel()).isTrue();
        assertThatThrownBy(() -> get(waiting))
                .hasCauseInstanceOf(DlmException.class)
                .cause()
                .satisfies(e -> assertThat(((DlmException) e).code()).isEqualTo(DlmException.Code.CANCELLED));
        assertThat(rb.grantedMode()).contains(LockMode.CR);
        assertThat(rb.cancel()).isFalse(); // nothing pending any more
        ra.unlock();
        assertThat(rb.convert(LockMode.EX).mode()).isEqualTo(LockMode.EX);
    }

    @Test
    void aTimedOutRequestIsCancelledAndReportsTimeout() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        a.resource("res").convert(LockMode.EX);
        LockResource rb = b.resource("res");
        assertThatThrownBy(() -> rb.convert(LockMode.PR, Duration.ofMillis(300)))
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.TIMEOUT));
        assertThat(rb.grantedMode()).isEmpty();
        assertThat(rb.requestedMode()).isEmpty();
    }

    @Test
    void twoPrHoldersConvertingToExIsAConversionDeadlockReportedToTheLaterOne() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        ra.convert(LockMode.PR);
        rb.convert(LockMode.PR);
        CompletableFuture<LockGrant> first = ra.convertAsync(LockMode.EX);
        awaitQueued(ra);
        CompletableFuture<LockGrant> second = rb.convertAsync(LockMode.EX);
        assertThatThrownBy(() -> get(second))
                .cause()
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.CONVERSION_DEADLOCK));
        assertThat(rb.grantedMode()).contains(LockMode.PR);
        assertThat(first).isNotDone();
        rb.unlock();
        assertThat(get(first).mode()).isEqualTo(LockMode.EX);
    }

    @Test
    void valueBlockIsWrittenByDownConversionFromPwOrExAndReadOnGrant() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        assertThat(ra.convert(LockMode.EX).valueBlock()).isEqualTo(LockValueBlock.zeros(64));
        ra.setValueBlock(lvb(7));
        ra.convert(LockMode.CR); // EX -> CR writes
        assertThat(rb.convert(LockMode.CR).valueBlock()).isEqualTo(lvb(7));
        ra.convert(LockMode.NL);
        rb.convert(LockMode.PW);
        rb.setValueBlock(lvb(9));
        rb.convert(LockMode.PW); // PW -> PW republishes
        assertThat(ra.convert(LockMode.CR).valueBlock()).isEqualTo(lvb(9));
        // a PR holder's value is never written
        rb.convert(LockMode.NL);
        ra.convert(LockMode.PR);
        ra.setValueBlock(lvb(1));
        ra.unlock();
        assertThat(rb.convert(LockMode.CR).valueBlock()).isEqualTo(lvb(9));
        // unlock from PW writes
        rb.convert(LockMode.PW);
        rb.setValueBlock(lvb(3));
        rb.unlock();
        assertThat(ra.convert(LockMode.PR).valueBlock()).isEqualTo(lvb(3));
    }

    @Test
    void blockingCallbackCarriesTheRequestedMode() throws Exception {
        List<LockMode> basts = new CopyOnWriteArrayList<>();
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockResource ra = a.resource("res", (res, requested) -> basts.add(requested));
        LockResource rb = b.resource("res");
        ra.convert(LockMode.CR);
        CompletableFuture<LockGrant> ex = rb.convertAsync(LockMode.EX);
        await().atMost(WAIT).until(() -> basts.contains(LockMode.EX));
        assertThat(basts).containsExactly(LockMode.EX);
        ra.unlock();
        get(ex);
    }

    @Test
    void newRequestsAreGrantedInFifoOrder() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockSpace c = join("c");
        LockSpace d = join("d");
        LockResource ra = a.resource("res");
        ra.convert(LockMode.EX);
        List<String> order = new CopyOnWriteArrayList<>();
        LockResource rb = b.resource("res");
        CompletableFuture<LockGrant> fb = rb.convertAsync(LockMode.EX);
        CompletableFuture<Void> addedB = fb.thenRun(() -> order.add("b"));
        awaitQueued(rb);
        LockResource rc = c.resource("res");
        CompletableFuture<LockGrant> fc = rc.convertAsync(LockMode.PR);
        CompletableFuture<Void> addedC = fc.thenRun(() -> order.add("c"));
        awaitQueued(rc);
        LockResource rd = d.resource("res");
        CompletableFuture<LockGrant> fd = rd.convertAsync(LockMode.PR);
        CompletableFuture<Void> addedD = fd.thenRun(() -> order.add("d"));
        awaitQueued(rd);
        ra.unlock();
        get(fb);
        assertThat(fc).isNotDone();
        assertThat(fd).isNotDone();
        rb.unlock();
        get(fc);
        get(fd);
        // the order is recorded by dependent actions, which may still be running when get returns
        addedB.get(30, TimeUnit.SECONDS);
        addedC.get(30, TimeUnit.SECONDS);
        addedD.get(30, TimeUnit.SECONDS);
        assertThat(order.get(0)).isEqualTo("b");
        assertThat(order).containsExactlyInAnyOrder("b", "c", "d");
    }

    @Test
    void aWaitingConversionIsGrantedBeforeAnEarlierNewRequest() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockSpace c = join("c");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        LockResource rc = c.resource("res");
        ra.convert(LockMode.PR);
        rb.convert(LockMode.PR);
        CompletableFuture<LockGrant> newEx = rc.convertAsync(LockMode.EX); // queued first
        awaitQueued(rc);
        CompletableFuture<LockGrant> conv = ra.convertAsync(LockMode.EX); // conversion, queued later
        awaitQueued(ra);
        rb.unlock();
        assertThat(get(conv).mode()).isEqualTo(LockMode.EX);
        assertThat(newEx).isNotDone();
        ra.unlock();
        assertThat(get(newEx).mode()).isEqualTo(LockMode.EX);
    }

    /**
     * Once queued, conversions are granted in the order they were queued (the Linux DLM's convert
     * queue): a later conversion that the held modes would allow still waits for an earlier one.
     */
    @Test
    void queuedConversionsAreGrantedInFifoOrderAmongThemselves() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockSpace c = join("c");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        LockResource rc = c.resource("res");
        ra.convert(LockMode.EX);
        rb.convert(LockMode.NL);
        rc.convert(LockMode.NL);
        CompletableFuture<LockGrant> first = rb.convertAsync(LockMode.PW);
        awaitQueued(rb);
        CompletableFuture<LockGrant> second = rc.convertAsync(LockMode.CR);
        awaitQueued(rc);
        // PR still blocks b's PW but would allow c's CR: c stays behind b
        ra.convert(LockMode.PR);
        // a later write of c's completes after c has seen everything committed before it
        c.resource("other").convert(LockMode.NL);
        assertThat(second).isNotDone();
        assertThat(rc.grantedMode()).contains(LockMode.NL);
        // once b's PW is granted, c's CR (compatible with it) follows
        ra.unlock();
        assertThat(get(first).mode()).isEqualTo(LockMode.PW);
        assertThat(get(second).mode()).isEqualTo(LockMode.CR);
    }

    @Test
    void downConversionNeverWaits() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockResource ra = a.resource("res");
        LockResource rb = b.resource("res");
        ra.convert(LockMode.EX);
        CompletableFuture<LockGrant> waiting = rb.convertAsync(LockMode.PW);
        awaitQueued(rb);
        assertThat(ra.convert(LockMode.PR, Duration.ofSeconds(5)).mode()).isEqualTo(LockMode.PR);
        assertThat(ra.convert(LockMode.CR, Duration.ofSeconds(5)).mode()).isEqualTo(LockMode.CR);
        assertThat(get(waiting).mode()).isEqualTo(LockMode.PW); // PW is compatible with CR
    }

    @Test
    void aSecondRequestWhileOneIsPendingIsRefused() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        a.resource("res").convert(LockMode.EX);
        LockResource rb = b.resource("res");
        CompletableFuture<LockGrant> first = rb.convertAsync(LockMode.EX);
        CompletableFuture<LockGrant> second = rb.convertAsync(LockMode.CR);
        assertThatThrownBy(() -> get(second))
                .cause()
                .isInstanceOfSatisfying(
                        DlmException.class, e -> assertThat(e.code()).isEqualTo(DlmException.Code.INVALID_REQUEST));
        assertThat(rb.cancel()).isTrue();
        assertThatThrownBy(() -> get(first)).isInstanceOf(ExecutionException.class);
    }

    @Test
    void slotsAreUniqueAndBelowTheSlotCount() throws Exception {
        LockSpace a = join("a");
        LockSpace b = join("b");
        LockSpace c = join("c");
        assertThat(List.of(a.slot(), b.slot(), c.slot()))
                .doesNotHaveDuplicates()
                .allSatisfy(s -> assertThat(s.number()).isBetween(0, a.slotCount() - 1));
        await().atMost(WAIT).until(() -> a.members().size() == 3);
        assertThat(a.members()).containsExactlyInAnyOrder(a.slot(), b.slot(), c.slot());
    }

    @Test
    void gracefulLeaveReleasesLocksAndReportsRecoveryWithoutMemberLost() throws Exception {
        List<String> events = new CopyOnWriteArrayList<>();
        LockSpace a = join("a", "contract", new LockSpaceListener() {
            @Override
            public void recoveryStarted() {
                events.add("prep");
            }

            @Override
            public void memberLost(NodeSlot slot) {
                events.add("lost" + slot.number());
            }

            @Override
            public void recoveryFinished(NodeSlot ours, java.util.Set<NodeSlot> members) {
                events.add("done" + members.size());
            }
        });
        toClose.add(a);
        LockSpace b = join("b", "contract", new LockSpaceListener() {});
        LockResource rb = b.resource("res");
        rb.convert(LockMode.EX);
        LockResource ra = a.resource("res");
        CompletableFuture<LockGrant> waiting = ra.convertAsync(LockMode.EX);
        awaitQueued(ra);
        b.close();
        assertThat(get(waiting).mode()).isEqualTo(LockMode.EX);
        await().atMost(WAIT).until(() -> events.contains("done1"));
        assertThat(events).noneMatch(e -> e.startsWith("lost"));
        assertThat(events).containsSubsequence("prep", "done1");
    }
}
