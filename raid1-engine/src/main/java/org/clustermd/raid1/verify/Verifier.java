package org.clustermd.raid1.verify;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;

/**
 * Proves what a {@link Workload} run left behind: every block holds a write its
 * {@link WriteLedger} allows, and the legs hold the same bytes.
 *
 * <p>Stateless and thread-safe.
 */
public final class Verifier {
    private static final int MAX_PROBLEMS = 20;

    private Verifier() {}

    /** What {@link #verify} found. */
    public record Report(long blocksChecked, long zeroBlocks, List<String> problems) {
        public boolean ok() {
            return problems.isEmpty();
        }
    }

    /** What {@link #compareLegs} found. */
    public record LegComparison(boolean identical, long bytesCompared, long differingBlocks, long firstDifference) {}

    /**
     * Reads back every block the workload touched and checks it against the ledger.
     *
     * @param crashed true after a crash or power cut (durable writes must survive), false after
     *     a clean run (every acknowledged write must be readable)
     */
    public static Report verify(BlockTarget target, WriteLedger ledger, boolean crashed) throws IOException {
        List<String> problems = Collections.synchronizedList(new ArrayList<>());
        long checked = 0;
        long zeros = 0;
        Set<Long> blocks = ledger.blocks();
        List<Long> batch = new ArrayList<>();
        List<ByteBuffer> bufs = new ArrayList<>();
        List<CompletableFuture<Void>> fs = new ArrayList<>();
        for (long b : blocks) {
            batch.add(b);
            if (batch.size() == 32) {
                long[] r = check(target, ledger, crashed, batch, bufs, fs, problems);
                checked += r[0];
                zeros += r[1];
                batch.clear();
            }
        }
        long[] r = check(target, ledger, crashed, batch, bufs, fs, problems);
        checked += r[0];
        zeros += r[1];
        return new Report(checked, zeros, List.copyOf(problems));
    }

    private static long[] check(
            BlockTarget target,
            WriteLedger ledger,
            boolean crashed,
            List<Long> batch,
            List<ByteBuffer> bufs,
            List<CompletableFuture<Void>> fs,
            List<String> problems)
            throws IOException {
        bufs.clear();
        fs.clear();
        for (long b : batch) {
            ByteBuffer buf = AlignedBuffers.allocate(StampedBlock.SIZE);
            bufs.add(buf);
            fs.add(target.readAsync(b * StampedBlock.SIZE, buf));
        }
        long zeros = 0;
        for (int i = 0; i < batch.size(); i++) {
            long block = batch.get(i);
            try {
                fs.get(i).get();
            } catch (ExecutionException e) {
                add(
                        problems,
                        "block " + block + " (byte " + block * StampedBlock.SIZE + "): read failed: " + e.getCause());
                continue;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted", e);
            }
            Set<Long> allowed = ledger.allowed(block, crashed);
            long found;
            try {
                StampedBlock.Stamp s = StampedBlock.read(bufs.get(i), 0, block * StampedBlock.SIZE);
                found = s == null ? -1 : s.writeId();
            } catch (IllegalStateException e) {
                add(problems, e.getMessage());
                continue;
            }
            if (found == -1) zeros++;
            if (!allowed.contains(found)) {
                add(
                        problems,
                        "block " + block + " (byte " + block * StampedBlock.SIZE + ") holds write "
                                + (found == -1 ? "none (zeros)" : found) + " but the ledger allows only " + allowed);
            }
        }
        return new long[] {batch.size(), zeros};
    }

    private static void add(List<String> problems, String p) {
        if (problems.size() < MAX_PROBLEMS) problems.add(p);
    }

    /**
     * Compares the data areas of closed legs (files or devices), reading each leg's superblock
     * for its data_offset and the array size.
     */
    public static LegComparison compareLegs(List<Path> legs) throws IOException {
        List<BlockDevice> open = new ArrayList<>();
        try {
            long size = -1;
            List<Long> offsets = new ArrayList<>();
            for (Path p : legs) {
                BlockDevice d =
                        BlockDevices.open(p, BlockDeviceOptions.defaults().withReadOnly(true));
                open.add(d);
                Superblock sb = SuperblockCodec.read(d);
                offsets.add(sb.dataOffset() * BlockDevice.SECTOR_SIZE);
                size = size < 0 ? sb.size() : Math.min(size, sb.size());
            }
            return compare(open, offsets, size * BlockDevice.SECTOR_SIZE);
        } finally {
            for (BlockDevice d : open) d.close();
        }
    }

    /** Compares {@code bytes} bytes from {@code dataOffsetBytes} of every device. */
    public static LegComparison compareLegs(List<BlockDevice> legs, long dataOffsetBytes, long bytes)
            throws IOException {
        List<Long> offsets = new ArrayList<>();
        for (int i = 0; i < legs.size(); i++) offsets.add(dataOffsetBytes);
        return compare(legs, offsets, bytes);
    }

    private static LegComparison compare(List<BlockDevice> legs, List<Long> offsets, long bytes) throws IOException {
        int chunk = 1 << 20;
        List<ByteBuffer> bufs = new ArrayList<>();
        for (int i = 0; i < legs.size(); i++) bufs.add(AlignedBuffers.allocate(chunk));
        long differing = 0;
        long first = -1;
        for (long at = 0; at < bytes; at += chunk) {
            int n = (int) Math.min(chunk, bytes - at);
            for (int i = 0; i < legs.size(); i++)
                legs.get(i).read(offsets.get(i) + at, bufs.get(i).clear().limit(n));
            ByteBuffer ref = bufs.get(0);
            for (int blk = 0; blk < n; blk += StampedBlock.SIZE) {
                int len = Math.min(StampedBlock.SIZE, n - blk);
                boolean same = true;
                for (int i = 1; i < legs.size() && same; i++) {
                    same = ref.slice(blk, len).mismatch(bufs.get(i).slice(blk, len)) < 0;
                }
                if (!same) {
                    differing++;
                    if (first < 0) first = at + blk;
                }
            }
        }
        return new LegComparison(differing == 0, bytes, differing, first);
    }
}
