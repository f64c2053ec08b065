package org.clustermd.bench.resync;

import static org.clustermd.bench.storage.Percentiles.list;
import static org.clustermd.bench.storage.Rounds.longs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.clustermd.bench.Figure;
import org.clustermd.bench.storage.LegFiles;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;

/**
 * Figure P10ahead, the crash cost of bits set ahead of a sequential stream (docs/design.md §4):
 * a stream of 1 MiB writes over the first N chunks of a clean array, then a crash (every later
 * write to either leg dropped), then the on-disk dirty bits counted: (dirty bits − N) ÷ N, the
 * extra chunks a resync copies per chunk written. The bound is min(K, N) ÷ N with K the array's
 * look-ahead. P10 itself counts these chunks in its numerator and its denominator (they are
 * bits on disk), so it stays 1.00; this is the trade's own number.
 *
 * <p>Owns nothing between calls; not thread-safe.
 */
final class StreamCrashCost {
    private static final int BLOCK = 1 << 20;

    private StreamCrashCost() {}

    static Figure measure(LegFiles legs) throws IOException {
        long chunk = legs.chunkBytes();
        long whole = legs.arrayBytes() / chunk;
        int k = ArrayOptions.DEFAULT_BITMAP_LOOK_AHEAD;
        List<Long> lengths = new ArrayList<>();
        for (long n = 2; n <= whole - k; n *= 2) lengths.add(n);
        if (lengths.isEmpty()) throw new IOException("P10ahead: the array has too few chunks (" + whole + ")");
        long[] extra = new long[lengths.size()];
        double[] ratio = new double[lengths.size()];
        double[] bound = new double[lengths.size()];
        for (int r = 0; r < lengths.size(); r++) {
            long n = lengths.get(r);
            legs.createArray(BitmapMode.CLUSTERED, true);
            List<FaultInjectingBlockDevice> faulty = new ArrayList<>();
            for (BlockDevice d : legs.openLegs()) faulty.add(new FaultInjectingBlockDevice(d));
            Raid1Array a = Raid1Array.assemble(faulty, ArrayOptions.defaults());
            try {
                ByteBuffer buf = AlignedBuffers.allocate(BLOCK);
                for (long off = 0; off < n * chunk; off += BLOCK) {
                    buf.putLong(0, off);
                    a.write(off, buf);
                }
            } finally {
                for (FaultInjectingBlockDevice f : faulty) f.dropWrites(true);
                a.close();
            }
            long dirty = ResyncSuite.dirtyOnDisk(legs, 0);
            extra[r] = dirty - n;
            ratio[r] = extra[r] / (double) n;
            bound[r] = Math.min(k, n) / (double) n;
            ResyncSuite.progress(
                    "P10ahead: stream over %d chunks, %d dirty bits after the crash: %d extra (%.3f, bound %.3f)",
                    n, dirty, extra[r], ratio[r], bound[r]);
        }
        int last = lengths.size() - 1;
        return new Figure(
                        "P10ahead",
                        "extra chunks dirty after a crash during a sequential stream / chunks it wrote"
                                + " (bits set ahead; the longest stream)",
                        ratio[last],
                        Double.NaN,
                        ratio[last],
                        "<=" + String.format(Locale.ROOT, "%.3f", bound[last]),
                        "ratio")
                .with("goal_is", "min(K, N) / N for the longest stream (K the look-ahead, N its chunks)")
                .with("look_ahead_chunks", k)
                .with("stream_chunks_per_round", lengths)
                .with("extra_chunks_per_round", longs(extra))
                .with("ratio_per_round", list(ratio))
                .with("bound_per_round", list(bound));
    }
}
