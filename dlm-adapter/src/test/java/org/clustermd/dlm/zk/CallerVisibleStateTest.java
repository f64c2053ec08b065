package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.curator.test.TestingServer;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What a caller reads from a handle ({@code grantedMode}, {@code requestedMode}) matches what was
 * granted as soon as the call that changed it returned, even when the ZooKeeper event thread
 * completes the request before the calling thread has handed over its own earlier state change.
 * The race needs a preemption at the wrong instant, so each case runs many iterations with every
 * core kept busy, bounded by a count and by a time budget (never asserting on time).
 */
class CallerVisibleStateTest {
    private static final int ITERATIONS = 1500;
    private static final Duration BUDGET = new Timing(Duration.ofSeconds(20)).duration();
    private TestingServer server;
    private ZkTestSupport nodes;
    private final AtomicBoolean loaded = new AtomicBoolean();
    private final List<Thread> burners = new ArrayList<>();

    @BeforeEach
    void start() throws Exception {
        server = new TestingServer();
        nodes = new ZkTestSupport(server.getConnectString(), Duration.ofSeconds(10));
        loaded.set(true);
        for (int i = 0; i < Runtime.getRuntime().availableProcessors() * 2; i++) {
            Thread t = new Thread(
                    () -> {
                        long x = 0;
                        while (loaded.get()) {
                            x += System.nanoTime() % 7;
                        }
                        if (x == 42) {
                            System.out.print("");
                        }
                    },
                    "cpu-burner-" + i);
            t.setDaemon(true);
            t.start();
            burners.add(t);
        }
    }

    @AfterEach
    void stop() throws Exception {
        loaded.set(false);
        for (Thread t : burners) {
            t.join(Timing.millis(5000));
        }
        nodes.close();
        server.close();
    }

    private LockSpace join(String node) throws DlmException {
        return nodes.manager(node).join("md0", LockSpaceOptions.of(4).withRequestTimeout(Duration.ofSeconds(30)));
    }

    @Test
    void afterConvertReturnsTheHandleShowsTheGrantAndNoRequest() throws Exception {
        LockResource r = join("a").resource("res");
        long end = System.nanoTime() + BUDGET.toNanos();
        for (int i = 0; i < ITERATIONS && System.nanoTime() < end; i++) {
            LockMode mode = i % 2 == 0 ? LockMode.EX : LockMode.NL;
            LockGrant g = r.convert(mode);
            assertThat(g.mode()).isEqualTo(mode);
            Optional<LockMode> requested = r.requestedMode();
            Optional<LockMode> granted = r.grantedMode();
            if (requested.isPresent() || !granted.equals(Optional.of(mode))) {
                fail(
                        "iteration %d: convert(%s) returned, but the handle shows granted %s requested %s",
                        i, mode, granted, requested);
            }
        }
    }

    @Test
    void afterTryConvertFailsTheHandleShowsNoRequestAndTheModeItHeld() throws Exception {
        join("a").resource("res").convert(LockMode.EX);
        LockResource r = join("b").resource("res");
        r.convert(LockMode.NL);
        long end = System.nanoTime() + BUDGET.toNanos();
        for (int i = 0; i < ITERATIONS && System.nanoTime() < end; i++) {
            try {
                r.tryConvert(LockMode.CR);
                fail("iteration %d: CR granted while another node holds EX", i);
            } catch (DlmException e) {
                assertThat(e.code()).isEqualTo(DlmException.Code.NOT_GRANTED);
            }
            Optional<LockMode> requested = r.requestedMode();
            Optional<LockMode> granted = r.grantedMode();
            if (requested.isPresent() || !granted.equals(Optional.of(LockMode.NL))) {
                fail(
                        "iteration %d: tryConvert(CR) failed, but the handle shows granted %s requested %s",
                        i, granted, requested);
            }
        }
    }

    /**
     * Two threads on one handle: one re-requests the CR it holds (answered without a write), the
     * other converts up to EX. Once both calls returned, the handle shows what the lock table
     * holds.
     */
    @Test
    void twoThreadsOnOneHandleLeaveItShowingWhatTheTableHolds() throws Exception {
        LockSpace a = join("a");
        ZkLockResource r = (ZkLockResource) a.resource("res");
        CyclicBarrier go = new CyclicBarrier(3);
        CyclicBarrier done = new CyclicBarrier(3);
        AtomicBoolean running = new AtomicBoolean(true);
        List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
        Thread same = worker("same-mode", go, done, running, errors, () -> r.convert(LockMode.CR));
        Thread up = worker("up", go, done, running, errors, () -> r.convert(LockMode.EX));
        long end = System.nanoTime() + BUDGET.toNanos();
        try {
            for (int i = 0; i < ITERATIONS && System.nanoTime() < end; i++) {
                r.convert(LockMode.CR);
                go.await(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
                done.await(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
                assertThat(errors).isEmpty();
                LockMode held = ((ZkLockSpace) r.space)
                        .tables().get("res").stream()
                                .filter(e -> e.key().equals(r.key))
                                .findFirst()
                                .orElseThrow()
                                .granted();
                if (!r.grantedMode().equals(Optional.of(held))
                        || r.requestedMode().isPresent()) {
                    fail(
                            "iteration %d: the table holds %s, the handle shows granted %s requested %s",
                            i, held, r.grantedMode(), r.requestedMode());
                }
            }
        } finally {
            running.set(false);
            go.reset();
            same.join(Timing.millis(30_000));
            up.join(Timing.millis(30_000));
        }
    }

    interface Call {
        void run() throws Exception;
    }

    private static Thread worker(
            String name,
            CyclicBarrier go,
            CyclicBarrier done,
            AtomicBoolean running,
            List<Throwable> errors,
            Call call) {
        Thread t = new Thread(
                () -> {
                    try {
                        while (running.get()) {
                            go.await();
                            try {
                                call.run();
                            } catch (DlmException e) {
                                if (e.code() != DlmException.Code.INVALID_REQUEST) {
                                    errors.add(e); // the other thread's request was pending: refused, fine
                                }
                            }
                            done.await();
                        }
                    } catch (java.util.concurrent.BrokenBarrierException | InterruptedException e) {
                        // the test is over
                    } catch (Exception | Error e) {
                        errors.add(e);
                    }
                },
                name);
        t.setDaemon(true);
        t.start();
        return t;
    }
}
