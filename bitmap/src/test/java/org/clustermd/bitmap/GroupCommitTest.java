package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.bitmap.Fixtures.manual;
import static org.clustermd.bitmap.Fixtures.sector;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.Test;

/** Concurrent writers that need new bits share storage writes and flushes. */
class GroupCommitTest {

    @Test
    void writersArrivingDuringAFlushShareTheNextOne() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        ManualClock clock = new ManualClock();
        CountDownLatch release = new CountDownLatch(1);
        AtomicBoolean holdFirst = new AtomicBoolean(true);
        ExecutorService pool = Executors.newFixedThreadPool(10);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            long writes0 = storage.writes();
            long flushes0 = storage.flushes();
            storage.onFlush((o, d) -> {
                if (holdFirst.compareAndSet(true, false)) {
                    try {
                        release.await(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
            });
            List<Future<?>> done = new ArrayList<>();
            done.add(pool.submit(() -> {
                b.startWrite(sector(0), 8);
                return null;
            }));
            while (storage.writes() == writes0) Thread.onSpinWait(); // the leader is in its flush
            for (int c = 1; c <= 9; c++) {
                long s = sector(c * 100);
                done.add(pool.submit(() -> {
                    b.startWrite(s, 8);
                    return null;
                }));
            }
            while (b.registeredForNextRound() < 9) Thread.onSpinWait();
            release.countDown();
            for (Future<?> f : done) f.get(Timing.seconds(30).toMillis(), TimeUnit.MILLISECONDS);
            // one round for the leader, one for the nine that queued behind it
            assertThat(storage.flushes() - flushes0).isEqualTo(2);
            assertThat(storage.writes() - writes0).isEqualTo(2);
            assertThat(b.stats().rounds()).isEqualTo(2);
            for (int c = 1; c <= 9; c++) assertThat(storage.bit(0, c * 100L)).isTrue();
            b.endWrite(sector(0), 8, true);
            for (int c = 1; c <= 9; c++) b.endWrite(sector(c * 100L), 8, true);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void manyConcurrentFirstWritesUseFewRounds() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        ManualClock clock = new ManualClock();
        int threads = 8;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch go = new CountDownLatch(1);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, manual(clock))) {
            // a slow flush, as on a real disk, so writers pile up behind it
            storage.onFlush((o, d) -> {
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
            List<Future<?>> fs = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int thread = t;
                fs.add(pool.submit(() -> {
                    go.await();
                    for (int i = 0; i < 25; i++) {
                        long s = sector(thread * 200 + i);
                        b.startWrite(s, 8);
                        b.endWrite(s, 8, true);
                    }
                    return null;
                }));
            }
            go.countDown();
            for (Future<?> f : fs) f.get(Timing.seconds(60).toMillis(), TimeUnit.MILLISECONDS);
            BitmapStats st = b.stats();
            assertThat(st.bitsSet()).isEqualTo(200);
            // never more than one flush per new bit; how many fewer depends on the schedule
            assertThat(st.storageFlushes()).isBetween(1L, 200L);
            for (int t = 0; t < threads; t++) {
                for (int i = 0; i < 25; i++)
                    assertThat(b.chunk(t * 200 + i).durable()).isTrue();
            }
            System.out.printf(
                    "group commit: 200 new bits from %d threads took %d flushes%n", threads, st.storageFlushes());
        } finally {
            pool.shutdownNow();
        }
    }
}
