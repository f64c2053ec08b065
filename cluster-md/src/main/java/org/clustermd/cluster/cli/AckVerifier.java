package org.clustermd.cluster.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.StampedBlock;

/**
 * Proves a node's {@link AckLog} against what an array reads back (an NBD export while the
 * cluster runs, or a freshly assembled array after it stopped): every block a logged write covered
 * holds a valid stamp of that node's writer, and
 * <ul>
 *   <li>for a node that stopped cleanly, exactly the last logged write of the block;</li>
 *   <li>for a node killed with SIGKILL, that write or a later one of the same writer (a write
 *       may have reached the legs, even only one of them, after the last line that reached the
 *       log: the resync made the legs agree on one of the two).</li>
 * </ul>
 * The engine's {@code WriteLedger} cannot say the second (it knows only what it was told), which
 * is why the demo checks its logs here.
 *
 * <p>Stateless and thread-safe.
 */
final class AckVerifier {
    private static final int BATCH = 64;
    private static final int MAX_PROBLEMS = 10;

    private AckVerifier() {}

    /** What one node's log came to. */
    record Result(String node, long writer, long writes, long blocks, List<String> problems) {
        boolean ok() {
            return problems.isEmpty();
        }
    }

    /** {@link #verify(BlockTarget, String, AckLog.Contents, boolean)} through an assembled array's data path. */
    static Result verify(Raid1Array array, String node, AckLog.Contents log, boolean killed) throws IOException {
        return verify(BlockTarget.of(array), node, log, killed);
    }

    static Result verify(BlockTarget array, String node, AckLog.Contents log, boolean killed) throws IOException {
        Map<Long, Long> last = new TreeMap<>();
        for (AckLog.Entry e : log.entries()) {
            for (int i = 0; i < e.blocks(); i++) last.merge(e.offset() / StampedBlock.SIZE + i, e.writeId(), Math::max);
        }
        List<String> problems = new ArrayList<>();
        List<Map.Entry<Long, Long>> batch = new ArrayList<>(BATCH);
        for (Map.Entry<Long, Long> e : last.entrySet()) {
            batch.add(e);
            if (batch.size() == BATCH) check(array, log.writer(), killed, batch, problems);
        }
        check(array, log.writer(), killed, batch, problems);
        return new Result(node, log.writer(), log.entries().size(), last.size(), problems);
    }

    private static void check(
            BlockTarget array, long writer, boolean killed, List<Map.Entry<Long, Long>> batch, List<String> problems)
            throws IOException {
        List<ByteBuffer> bufs = new ArrayList<>(batch.size());
        List<CompletableFuture<Void>> reads = new ArrayList<>(batch.size());
        for (Map.Entry<Long, Long> e : batch) {
            ByteBuffer b = AlignedBuffers.allocate(StampedBlock.SIZE);
            bufs.add(b);
            reads.add(array.readAsync(e.getKey() * StampedBlock.SIZE, b));
        }
        for (int i = 0; i < batch.size(); i++) {
            long block = batch.get(i).getKey();
            long want = batch.get(i).getValue();
            long offset = block * StampedBlock.SIZE;
            String problem;
            try {
                reads.get(i).get();
                StampedBlock.Stamp s = StampedBlock.read(bufs.get(i), 0, offset);
                if (s == null) {
                    problem = "byte " + offset + " reads as zeros, but write " + want + " was acknowledged";
                } else if (s.writer() != writer) {
                    problem = "byte " + offset + " holds writer " + s.writer() + "'s write " + s.writeId()
                            + ", not writer " + writer + "'s";
                } else if (killed ? s.writeId() < want : s.writeId() != want) {
                    problem = "byte " + offset + " holds write " + s.writeId() + ", but the last acknowledged one is "
                            + want;
                } else {
                    problem = null;
                }
            } catch (IllegalStateException e) {
                problem = e.getMessage();
            } catch (ExecutionException e) {
                problem = "byte " + offset + ": read failed: " + e.getCause().getMessage();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while verifying", e);
            }
            if (problem != null && problems.size() < MAX_PROBLEMS) problems.add(problem);
        }
        batch.clear();
    }
}
