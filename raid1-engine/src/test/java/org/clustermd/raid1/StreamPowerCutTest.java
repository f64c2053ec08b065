package org.clustermd.raid1;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.io.fault.PowerCutMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * A power cut in the middle of a sequential stream through the array, with bits set ahead of
 * it (docs/lessons.md §55): after reassembly every chunk the stream wrote is dirty on disk (the
 * durable-bit rule, docs/lessons.md §27), and the chunks dirty that it never wrote are at most
 * {@code min(K, written)} (docs/design.md §4).
 */
class StreamPowerCutTest {
    private static final int K = 8;
    private static final long CHUNK = 256 << 10;
    private static final int WRITE = 64 << 10;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "{0}")
    @EnumSource(
            value = PowerCutMode.class,
            names = {"DROP_UNFLUSHED", "KEEP_RANDOM_SUBSET"})
    void everyWrittenChunkStaysDirtyAndAtMostKMore(PowerCutMode mode) throws Exception {
        try (TestLegs legs = new TestLegs(dir, 2, 32L << 20)) {
            legs.create(CreateOptions.builder("md-stream")
                    .assumeClean(true)
                    .bitmap(BitmapMode.CLUSTERED)
                    .bitmapChunk(CHUNK)
                    .build());
            Raid1Array a = legs.assembleFaulty(
                    ArrayOptions.builder().bitmapLookAhead(K).build());
            for (FaultInjectingBlockDevice f : legs.faults) f.armPowerCut();
            // 40 whole chunks and half of the 41st, one 64 KiB write at a time
            long end = 40 * CHUNK + CHUNK / 2;
            ByteBuffer buf = AlignedBuffers.allocate(WRITE);
            for (long off = 0; off < end; off += WRITE) {
                buf.putLong(0, off);
                a.write(off, buf);
            }
            int written = (int) ((end + CHUNK - 1) / CHUNK);
            WriteIntentBitmap before = a.bitmap().orElseThrow();
            long aheadBefore = before.dirtyChunks() - written;
            assertThat(aheadBefore).as("bits were set ahead of the stream").isPositive();
            for (FaultInjectingBlockDevice f : legs.faults) {
                f.failAllWrites(true);
                f.failAllReads(true);
                f.failFlushes(true);
            }
            for (FaultInjectingBlockDevice f : legs.faults) f.powerCut(mode, 59);
            a.close(); // nothing reaches the legs any more: this is the crash
            for (FaultInjectingBlockDevice f : legs.faults) {
                f.clearFaults();
                f.powerOn();
            }

            Raid1Array b =
                    legs.assemble(ArrayOptions.builder().startFrozen(true).build());
            WriteIntentBitmap after = b.bitmap().orElseThrow();
            for (int c = 0; c < written; c++) {
                assertThat(after.chunk(c).needed())
                        .as("%s: chunk %d was written and must be resynced", mode, c)
                        .isTrue();
            }
            long extra = after.dirtyChunks() - written;
            assertThat(extra)
                    .as("%s: chunks dirty that the stream never wrote", mode)
                    .isBetween(0L, (long) Math.min(K, written));
            b.close();
        }
    }
}
