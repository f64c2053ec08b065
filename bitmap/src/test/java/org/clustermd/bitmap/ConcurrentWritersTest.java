package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.Random;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Many writer threads on overlapping and disjoint chunks, with the daemon clearing and a
 * resync running at the same time. Every page the storage receives is checked: a chunk with a
 * write the test knows to be in flight must have its bit set in it. At the end no counter is
 * left over (none underflowed: that throws) and, once everything is synced and idle, the slot
 * is clean.
 */
class ConcurrentWritersTest {
    static final int THREADS = 6;
    static final int ITERATIONS = 4000;
    static final int CHUNKS = 2048;

    static LongStream seeds() {
        return LongStream.of(11, 12);
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void noBitIsClearedUnderAPendingWriteAndNoCounterUnderflows(long seed) throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        ManualClock clock = new ManualClock();
        AtomicIntegerArray inFlight = new AtomicIntegerArray(CHUNKS);
        Queue<String> violations = new ConcurrentLinkedQueue<>();
        Queue<Throwable> failures = new ConcurrentLinkedQueue<>();
        AtomicLong pagesChecked = new AtomicLong();
        storage.onWrite((offset, data) -> {
            if (offset != 0) return; // slot 0's single page holds every bit
            for (int c = 0; c < CHUNKS; c++) {
                if (inFlight.get(c) > 0 && !bit(data, c)) {
                    violations.add("chunk " + c + " written clear with " + inFlight.get(c) + " writes in flight");
                }
            }
            pagesChecked.incrementAndGet();
        });
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            CountDownLatch start = new CountDownLatch(1);
            AtomicBoolean writersDone = new AtomicBoolean();
            List<Thread> writers = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                int thread = t;
                writers.add(new Thread(
                        () -> {
                            Random r = new Random(seed * 100 + thread);
                            try {
                                start.await();
                                // the writers go on until the daemon has cleared bits under them at
                                // least once: on a busy machine the daemon may not have run during
                                // ITERATIONS writes, and the race this test is for would not happen
                                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                                for (int i = 0;
                                        i < ITERATIONS
                                                || (b.stats().bitsCleared() == 0 && System.nanoTime() < deadline);
                                        i++) {
                                    int first = r.nextBoolean() ? r.nextInt(16) : 100 * (thread + 1) + r.nextInt(96);
                                    int len = 1 + r.nextInt(3);
                                    b.startWrite(sector(first), len * Fixtures.CHUNK_SECTORS);
                                    for (int c = first; c < first + len; c++) inFlight.incrementAndGet(c);
                                    if (r.nextInt(8) == 0) Thread.yield();
                                    for (int c = first; c < first + len; c++) inFlight.decrementAndGet(c);
                                    b.endWrite(sector(first), len * Fixtures.CHUNK_SECTORS, r.nextInt(40) != 0);
                                }
                            } catch (Throwable e) {
                                failures.add(e);
                            }
                        },
                        "writer-" + t));
            }
            Thread daemon = new Thread(
                    () -> {
                        try {
                            start.await();
                            while (!writersDone.get()) {
                                clock.advanceMillis(2_500);
                                b.daemonWork();
                                Thread.yield();
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    },
                    "test-daemon");
            Thread resync = new Thread(
                    () -> {
                        try {
                            start.await();
                            while (!writersDone.get()) {
                                long s = b.nextNeeded(0);
                                if (s >= 0 && b.startSync(s, false).needsSync()) b.endSync(s, false);
                                Thread.yield();
                            }
                        } catch (Throwable e) {
                            failures.add(e);
                        }
                    },
                    "test-resync");
            writers.forEach(Thread::start);
            daemon.start();
            resync.start();
            start.countDown();
            for (Thread w : writers) w.join(TimeUnit.MINUTES.toMillis(2));
            writersDone.set(true);
            daemon.join(TimeUnit.MINUTES.toMillis(1));
            resync.join(TimeUnit.MINUTES.toMillis(1));

            assertThat(failures).as("seed %d", seed).isEmpty();
            assertThat(violations).as("seed %d", seed).isEmpty();
            for (int c = 0; c < CHUNKS; c++)
                assertThat(b.chunk(c).pendingWrites()).as("chunk %d", c).isZero();
            assertThat(pagesChecked.get()).isPositive();
            BitmapStats st = b.stats();
            assertThat(st.bitsCleared())
                    .as("the daemon did clear bits meanwhile")
                    .isPositive();

            for (long s = b.nextNeeded(0); s >= 0; s = b.nextNeeded(s)) {
                b.startSync(s, false);
                b.endSync(s, false);
            }
            for (int pass = 0; pass < 4; pass++) {
                clock.advanceMillis(5_000);
                b.daemonWork();
            }
            assertThat(b.dirtyChunks()).isZero();
            assertThat(BitmapArea.read(storage).examine(0).dirtyChunks()).isZero();
            System.out.printf(
                    "concurrent writers (seed %d): %d pages checked, %d bits set, %d cleared, %d flushes%n",
                    seed, pagesChecked.get(), st.bitsSet(), st.bitsCleared(), st.storageFlushes());
        }
    }

    private static boolean bit(ByteBuffer page, int chunk) {
        int i = (int) BitmapGeometry.bitByte(chunk);
        return (page.get(page.position() + i) & (1 << BitmapGeometry.bitInByte(chunk))) != 0;
    }
}
