package org.clustermd.cluster.cli;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.StampedBlock;

/**
 * The client side of the demo's acknowledgement log: a {@link BlockTarget} over an NBD client
 * that appends a write to the node's {@link AckLog} once the export has promised it durable,
 * which NBD does in two ways only: the reply to a write sent with FUA, or the reply to a FLUSH
 * sent after the write's own reply arrived. A write whose reply came but whose FLUSH did not
 * (the node was killed in between) is never logged: the export promised nothing for it, so the
 * verifier may not demand it (it accepts a later write of the same writer, or this one).
 *
 * <p>See docs/lessons.md §46.
 *
 * <p>Thread-safe: writes and flushes from any thread; their completions log. The pending list
 * (replied, not yet covered by a FLUSH) is guarded by this object's lock.
 */
final class DurableAcks implements BlockTarget, AutoCloseable {
    private final BlockTarget client;
    private final AckLog log;
    private final AtomicLong logged = new AtomicLong();
    /** Writes replied to without FUA since the last FLUSH was sent. */
    private List<AckLog.Entry> replied = new ArrayList<>();

    DurableAcks(BlockTarget client, AckLog log) {
        this.client = client;
        this.log = log;
    }

    @Override
    public long size() {
        return client.size();
    }

    /** {@code src} holds stamped blocks (their first stamp names the write). */
    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        StampedBlock.Stamp stamp = StampedBlock.read(src, src.position(), offset);
        AckLog.Entry e = new AckLog.Entry(offset, src.remaining() / StampedBlock.SIZE, stamp.writeId());
        return client.writeAsync(offset, src, fua).thenApply(v -> {
            if (fua) append(List.of(e));
            else pending(e);
            return v;
        });
    }

    private synchronized void pending(AckLog.Entry e) {
        replied.add(e);
    }

    private synchronized List<AckLog.Entry> takeReplied() {
        List<AckLog.Entry> taken = replied;
        replied = new ArrayList<>();
        return taken;
    }

    /** A FLUSH covering every write replied to before it is sent; those are logged when it completes. */
    @Override
    public CompletableFuture<Void> flushAsync() {
        List<AckLog.Entry> covered = takeReplied();
        return client.flushAsync().thenApply(v -> {
            append(covered);
            return v;
        });
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return client.readAsync(offset, dst);
    }

    private void append(List<AckLog.Entry> entries) {
        for (AckLog.Entry e : entries) log.append(e.offset(), e.blocks(), e.writeId());
        logged.addAndGet(entries.size());
    }

    /** Writes logged as durable so far. */
    long logged() {
        return logged.get();
    }

    /** Closes the log (what is queued is made durable first); the client is the caller's. */
    @Override
    public void close() throws IOException {
        log.close();
    }
}
