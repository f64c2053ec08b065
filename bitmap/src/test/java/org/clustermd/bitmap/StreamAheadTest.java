package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.bitmap.Fixtures.CHUNK_SECTORS;
import static org.clustermd.bitmap.Fixtures.sector;

import java.util.ArrayDeque;
import java.util.BitSet;
import java.util.Random;
import org.clustermd.bitmap.testing.CrashRecordingStorage;
import org.clustermd.bitmap.testing.CrashRecordingStorage.Model;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.bitmap.testing.MemoryBitmapStorage;
import org.junit.jupiter.api.Test;

/**
 * Bits set ahead of a sequential stream (docs/lessons.md §55): a power cut at any storage
 * operation of the stream leaves every chunk a write was started on dirty on disk, and at most
 * {@code min(K, chunks started)} chunks more; a long stream takes far fewer rounds than chunks;
 * writes that are not a stream set nothing ahead, nor does a degraded array; bits set ahead and
 * never written decay before the written ones.
 */
class StreamAheadTest {
    private static final int K = 8;
    private static final int STREAM_CHUNKS = 300;
    /** Two writes per chunk, up to four in flight, as a queue-depth-4 sequential writer. */
    private static final long WRITE_SECTORS = CHUNK_SECTORS / 2;

    private static final int DEPTH = 4;

    private final ManualClock clock = new ManualClock();
    /** Chunks whose startWrite returned: their writes may have reached a leg. */
    private final BitSet startedAndReturned = new BitSet();

    private BitmapOptions options(int lookAhead) {
        return BitmapOptions.builder()
                .name("test")
                .clock(clock)
                .startDaemon(false)
                .lookAheadChunks(lookAhead)
                .build();
    }

    @Test
    void aPowerCutDuringAStreamKeepsEveryStartedChunkDirtyAndAtMostKMore() throws Exception {
        CrashRecordingStorage storage = new CrashRecordingStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        BitSet started = new BitSet();
        Random tear = new Random(59);
        int[] cuts = {0};
        int[] worstExtra = {0};
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, options(K))) {
            storage.listener((s, flush) -> {
                cuts[0]++;
                for (Model m : Model.values()) {
                    byte[] img = s.crashImage(m, tear);
                    String at = "cut " + cuts[0] + " (" + m + ", " + started.cardinality() + " chunks started)";
                    BitSet onDisk = bits(img);
                    if (m == Model.LOST) {
                        // every chunk whose write may have reached a leg has its bit durable
                        BitSet written = (BitSet) startedAndReturned.clone();
                        written.andNot(onDisk);
                        assertThat(written.cardinality())
                                .as(at + ": written chunks clean on disk " + written)
                                .isZero();
                    }
                    BitSet extra = (BitSet) onDisk.clone();
                    extra.andNot(started);
                    assertThat(extra.cardinality())
                            .as(at + ": chunks dirty on disk that no write started on " + extra)
                            .isLessThanOrEqualTo(Math.min(K, started.cardinality()));
                    worstExtra[0] = Math.max(worstExtra[0], extra.cardinality());
                }
            });
            ArrayDeque<Long> inFlight = new ArrayDeque<>();
            for (long at = 0; at < sector(STREAM_CHUNKS); at += WRITE_SECTORS) {
                if (inFlight.size() == DEPTH) b.endWrite(inFlight.removeFirst(), WRITE_SECTORS, true);
                started.set((int) (at / CHUNK_SECTORS));
                b.startWrite(at, WRITE_SECTORS);
                startedAndReturned.set((int) (at / CHUNK_SECTORS));
                inFlight.addLast(at);
            }
            while (!inFlight.isEmpty()) b.endWrite(inFlight.removeFirst(), WRITE_SECTORS, true);
            storage.listener(null);
            assertThat(cuts[0]).isGreaterThan(20);
            // the look-ahead did work: some cut found bits set ahead
            assertThat(worstExtra[0]).isGreaterThan(0);

            // the node restarting after a cut now resyncs the stream and at most K chunks more
            byte[] img = storage.crashImage(Model.LOST, tear);
            try (WriteIntentBitmap again =
                    WriteIntentBitmap.open(MemoryBitmapStorage.of("reboot", img), 0, options(K))) {
                assertThat(again.neededChunks()).isBetween((long) STREAM_CHUNKS, (long) STREAM_CHUNKS + K);
                for (int c = 0; c < STREAM_CHUNKS; c++)
                    assertThat(again.chunk(c).needed()).isTrue();
            }
        }
    }

    @Test
    void aLongStreamTakesFarFewerRoundsThanChunks() throws Exception {
        long without = streamRounds(0);
        long with = streamRounds(K);
        assertThat(without)
                .as("md's rule without look-ahead: one round per chunk")
                .isEqualTo(STREAM_CHUNKS);
        // one round per K/2 chunks once the window is full, a few more while it grows
        assertThat(with).isLessThanOrEqualTo(STREAM_CHUNKS / (K / 2) + 2L * K);
    }

    private long streamRounds(int lookAhead) throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, options(lookAhead))) {
            long before = b.stats().rounds();
            for (long at = 0; at < sector(STREAM_CHUNKS); at += WRITE_SECTORS) {
                b.startWrite(at, WRITE_SECTORS);
                b.endWrite(at, WRITE_SECTORS, true);
            }
            long rounds = b.stats().rounds() - before;
            assertThat(b.dirtyChunks()).isBetween((long) STREAM_CHUNKS, (long) STREAM_CHUNKS + lookAhead);
            return rounds;
        }
    }

    @Test
    void writesThatAreNoStreamSetNothingAhead() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, options(K))) {
            // every other chunk: no chunk written right after another
            for (int c = 0; c < 400; c += 2) {
                b.startWrite(sector(c), WRITE_SECTORS);
                b.endWrite(sector(c), WRITE_SECTORS, true);
            }
            assertThat(b.dirtyChunks()).isEqualTo(200);
            assertThat(b.state().counters.countAhead()).isZero();
        }
    }

    @Test
    void bitsSetAheadAndNeverWrittenDecayBeforeTheWrittenOnes() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, options(K))) {
            for (long at = 0; at < sector(20); at += WRITE_SECTORS) {
                b.startWrite(at, WRITE_SECTORS);
                b.endWrite(at, WRITE_SECTORS, true);
            }
            b.flush(); // bits set ahead that no round carried yet become durable
            long ahead = b.state().counters.countAhead();
            assertThat(ahead).isPositive();
            assertThat(b.dirtyChunks()).isEqualTo(20 + ahead);
            for (int pass = 0; pass < 2; pass++) {
                clock.advanceMillis(BitmapSuperblock.DEFAULT_DAEMON_SLEEP * 1000);
                assertThat(b.daemonWork()).isTrue();
            }
            assertThat(b.state().counters.countAhead()).isZero();
            assertThat(b.dirtyChunks()).as("the 20 written chunks still set").isEqualTo(20);
            for (int c = 20; c < 20 + K; c++) assertThat(b.chunk(c).bitSet()).isFalse();
            // a write into a chunk whose ahead bit was cleared sets it again, durably
            b.startWrite(sector(20), WRITE_SECTORS);
            assertThat(b.chunk(20).durable()).isTrue();
            b.endWrite(sector(20), WRITE_SECTORS, true);
        }
    }

    @Test
    void aDegradedArraySetsNothingAhead() throws Exception {
        MemoryBitmapStorage storage = new MemoryBitmapStorage("leg0", 16 * 1024);
        Fixtures.cleanArea(storage);
        try (WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, options(K))) {
            b.setDegraded(true);
            for (long at = 0; at < sector(20); at += WRITE_SECTORS) {
                b.startWrite(at, WRITE_SECTORS);
                b.endWrite(at, WRITE_SECTORS, true);
            }
            // every dirty chunk of a degraded array is copied at the re-add: only the written ones
            assertThat(b.dirtyChunks()).isEqualTo(20);
            assertThat(b.state().counters.countAhead()).isZero();
        }
    }

    /** Slot 0's bits in an image of the four-node area. */
    private static BitSet bits(byte[] img) {
        BitSet set = new BitSet();
        for (int c = 0; c < 2048; c++) if (MemoryBitmapStorage.testBit(img, 0, c)) set.set(c);
        return set;
    }
}
