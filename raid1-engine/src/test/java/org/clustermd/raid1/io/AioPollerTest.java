package org.clustermd.raid1.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A thread that reaps its own AIO requests ({@link AioPoller}, what the NBD export's event loop
 * does): its requests complete on it when it polls, never on a reaper; each completion signals
 * its eventfd (what wakes a loop asleep in epoll_wait); a poller without an eventfd (a
 * submitting loop's, P1's lanes) gets its completions only in its own {@code reap}; a device's
 * whole depth held by its unreaped requests does not make it wait on itself; and requests still
 * in flight when it lets go finish on a reaper, so the device closes. What the kernel has posted
 * can be counted without ending it ({@link AioPoller#posted}), as the NBD export's tests do.
 */
class AioPollerTest {
    private static final int BLOCK = 4096;
    private static final Duration WAIT = Duration.ofSeconds(60);

    /** The libc calls for an eventfd, which the engine itself never creates. */
    public interface EventFds {
        int eventfd(int initval, int flags);

        long read(int fd, Pointer buf, long count);

        int close(int fd);
    }

    private static final int EFD_NONBLOCK = 04000;
    private static final EventFds LIBC = LibraryLoader.create(EventFds.class).load("c");

    @TempDir
    Path dir;

    private int eventFd = -1;

    @BeforeEach
    void eventFd() {
        eventFd = LIBC.eventfd(0, EFD_NONBLOCK);
        assertThat(eventFd).isGreaterThanOrEqualTo(0);
    }

    @AfterEach
    void closeEventFd() {
        if (eventFd >= 0) LIBC.close(eventFd);
    }

    /** The eventfd's counter, reset: how many completions signalled it since the last read. */
    private long signals() {
        Pointer p = Memory.allocateDirect(Runtime.getSystemRuntime(), 8);
        return LIBC.read(eventFd, p, 8) == 8 ? p.getLongLong(0) : 0;
    }

    private BlockDevice open(String name, int depth) throws Exception {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(1 << 20);
        }
        BlockDevice d = BlockDevices.open(
                f, BlockDeviceOptions.defaults().withEngine(IoEngine.AIO).withQueueDepth(depth));
        assertThat(((PosixBlockDevice) d).engine()).isEqualTo(IoEngine.AIO);
        return d;
    }

    private static ByteBuffer block(int fill) {
        ByteBuffer b = AlignedBuffers.allocate(BLOCK);
        for (int i = 0; i < BLOCK; i++) b.put(i, (byte) fill);
        return b;
    }

    private static void assertHolds(BlockDevice d, long offset, int fill) throws Exception {
        ByteBuffer r = AlignedBuffers.allocate(BLOCK);
        d.read(offset, r);
        for (int i = 0; i < BLOCK; i++) assertThat(r.get(i)).isEqualTo((byte) fill);
    }

    /** Completions by the thread each ran on. */
    private static final class Ends implements IoCompletion {
        final ConcurrentLinkedQueue<String> threads = new ConcurrentLinkedQueue<>();
        final ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
        final CountDownLatch all;

        Ends(int n) {
            all = new CountDownLatch(n);
        }

        @Override
        public void completed(int tag, Throwable failure) {
            threads.add(Thread.currentThread().getName());
            if (failure != null) failures.add(failure);
            all.countDown();
        }
    }

    /** Blocks 0-7 of both devices, block i holding the pattern i + 1, in one io_submit. */
    private static void writeEightToBoth(BlockDevice a, BlockDevice b, Ends ends) {
        try (IoPlug.Batch batch = IoPlug.batch()) {
            for (int i = 0; i < 8; i++) {
                a.writeAsync((long) i * BLOCK, block(i + 1), false, ends, i);
                b.writeAsync((long) i * BLOCK, block(i + 1), false, ends, i);
            }
        }
    }

    /** What {@link #writeEightToBoth} wrote, from block {@code from} on, is on both devices. */
    private static void assertBothHold(BlockDevice a, BlockDevice b, int from) throws Exception {
        for (int i = from; i < 8; i++) {
            assertHolds(a, (long) i * BLOCK, i + 1);
            assertHolds(b, (long) i * BLOCK, i + 1);
        }
    }

    @Test
    void requestsFromAPollersThreadCompleteOnItWhenItPollsAndSignalItsEventFd() throws Exception {
        try (BlockDevice a = open("a", 64);
                BlockDevice b = open("b", 64)) {
            Ends ends = new Ends(16);
            String[] me = new String[1];
            assertTimeoutPreemptively(WAIT, () -> {
                me[0] = Thread.currentThread().getName();
                try (AioPoller poller = AioPoller.install(eventFd)) {
                    assertThat(AioPoller.currentThread()).isSameAs(poller);
                    writeEightToBoth(a, b, ends);
                    long signalled = 0;
                    while (ends.all.getCount() > 0) {
                        // nobody else reaps them: they end only when this thread polls
                        Thread.sleep(1);
                        signalled += signals();
                        poller.poll();
                    }
                    signalled += signals();
                    assertThat(signalled).as("eventfd signals").isEqualTo(16);
                    assertThat(AioPoller.pollCurrentThread()).isZero();
                }
                assertThat(AioPoller.currentThread()).isNull();
                // once closed, the thread's requests go to the shared context and its reaper again
                Ends later = new Ends(1);
                a.writeAsync(0, block(0x77), false, later, 0);
                assertThat(later.all.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
                assertThat(later.threads).allMatch(t -> t.startsWith("aio-reaper-"));
            });
            assertThat(ends.failures).isEmpty();
            assertThat(ends.threads).hasSize(16).containsOnly(me[0]);
            // block 0 was written again after the poller closed
            assertBothHold(a, b, 1);
        }
    }

    @Test
    void aPollerWithoutAnEventFdGetsItsCompletionsOnlyWhenItReapsAndOnItsOwnThread() throws Exception {
        try (BlockDevice a = open("a", 64);
                BlockDevice b = open("b", 64)) {
            Ends ends = new Ends(16);
            String[] me = new String[1];
            assertTimeoutPreemptively(WAIT, () -> {
                me[0] = Thread.currentThread().getName();
                try (AioPoller poller = AioPoller.install()) {
                    assertThat(poller.inFlight()).isFalse();
                    assertThat(poller.reap(WAIT.toNanos()))
                            .as("nothing in flight: no wait")
                            .isZero();
                    writeEightToBoth(a, b, ends);
                    assertThat(poller.inFlight()).isTrue();
                    // a reaper would have ended them meanwhile; here they wait for this thread
                    Thread.sleep(100);
                    assertThat(ends.threads).isEmpty();
                    int reaped = 0;
                    while (ends.all.getCount() > 0) reaped += poller.reap(WAIT.toNanos());
                    assertThat(reaped).isEqualTo(16);
                    assertThat(poller.inFlight()).isFalse();
                    // another thread cannot reap this thread's context (its completions would move)
                    Thread other = new Thread(() -> {
                        try {
                            poller.reap(0);
                        } catch (IllegalStateException expected) {
                            ends.threads.add("refused");
                        }
                    });
                    other.start();
                    other.join();
                }
            });
            assertThat(ends.failures).isEmpty();
            assertThat(ends.threads).hasSize(17).containsOnly(me[0], "refused");
            assertBothHold(a, b, 0);
        }
    }

    @Test
    void postedCountsTheKernelsCompletionsWithoutEndingThemAndThePollEndsExactlyThose() throws Exception {
        try (BlockDevice a = open("a", 64)) {
            Ends ends = new Ends(6);
            assertTimeoutPreemptively(WAIT, () -> {
                try (AioPoller poller = AioPoller.install(eventFd)) {
                    assertThat(poller.posted())
                            .as("before the first submission: no context")
                            .isZero();
                    try (IoPlug.Batch batch = IoPlug.batch()) {
                        for (int i = 0; i < 6; i++) a.writeAsync((long) i * BLOCK, block(0x20 + i), false, ends, i);
                    }
                    // the kernel finishes them on its own; asking does not end them here
                    while (poller.posted() < 6) Thread.onSpinWait();
                    assertThat(ends.all.getCount())
                            .as("completions run before a poll")
                            .isEqualTo(6);
                    assertThat(poller.poll()).isEqualTo(6);
                    assertThat(ends.all.getCount()).isZero();
                    assertThat(poller.posted()).isZero();
                }
            });
            assertThat(ends.failures).isEmpty();
            for (int i = 0; i < 6; i++) assertHolds(a, (long) i * BLOCK, 0x20 + i);
        }
    }

    @Test
    void aPollersThreadThatHoldsADevicesWholeDepthReapsWhileItWaitsForASlot() throws Exception {
        try (BlockDevice a = open("a", 2)) {
            Ends ends = new Ends(40);
            assertTimeoutPreemptively(WAIT, () -> {
                try (AioPoller poller = AioPoller.install(eventFd)) {
                    // the third write finds both of the device's slots taken by this thread's own
                    // unreaped requests: waiting on the semaphore alone would wait forever
                    for (int i = 0; i < 40; i++) a.writeAsync((long) i * BLOCK, block(i), false, ends, i);
                    while (ends.all.getCount() > 0) poller.poll();
                }
            });
            assertThat(ends.failures).isEmpty();
            for (int i = 0; i < 40; i++) assertHolds(a, (long) i * BLOCK, i);
        }
    }

    @Test
    void requestsInFlightWhenThePollerClosesFinishOnAReaperAndTheDeviceCloses() throws Exception {
        BlockDevice a = open("a", 64);
        Ends ends = new Ends(32);
        List<Integer> fills = new ArrayList<>();
        assertTimeoutPreemptively(WAIT, () -> {
            try (AioPoller poller = AioPoller.install(eventFd)) {
                try (IoPlug.Batch batch = IoPlug.batch()) {
                    for (int i = 0; i < 32; i++) {
                        a.writeAsync((long) i * BLOCK, block(0x40 + i), false, ends, i);
                        fills.add(0x40 + i);
                    }
                }
                // closed without polling: whatever has not been reaped is handed over
            }
            assertThat(ends.all.await(WAIT.toSeconds(), TimeUnit.SECONDS)).isTrue();
        });
        assertThat(ends.failures).isEmpty();
        assertThat(ends.threads).allMatch(t -> t.startsWith("aio-reaper-"));
        for (int i = 0; i < fills.size(); i++) assertHolds(a, (long) i * BLOCK, fills.get(i));
        assertTimeoutPreemptively(WAIT, a::close);
    }
}
