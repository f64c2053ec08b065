package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.StampedBlock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link DurableAcks}: a write reaches the ack log only once NBD promised it durable. The target
 * is a fake whose replies the test gives by hand (the real client is NbdClientTest's).
 */
class DurableAcksTest {
    @TempDir
    Path dir;

    /** Replies only when the test completes the futures it handed out. */
    private static final class HandReplies implements BlockTarget {
        final List<CompletableFuture<Void>> writes = new ArrayList<>();
        final List<CompletableFuture<Void>> flushes = new ArrayList<>();

        @Override
        public long size() {
            return 1 << 20;
        }

        @Override
        public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
            CompletableFuture<Void> f = new CompletableFuture<>();
            writes.add(f);
            return f;
        }

        @Override
        public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
            return CompletableFuture.completedFuture(null);
        }

        @Override
        public CompletableFuture<Void> flushAsync() {
            CompletableFuture<Void> f = new CompletableFuture<>();
            flushes.add(f);
            return f;
        }
    }

    private static ByteBuffer stamped(long offset, long writeId) {
        ByteBuffer b = AlignedBuffers.allocate(StampedBlock.SIZE);
        StampedBlock.stamp(b, 0, offset, 1, writeId);
        return b;
    }

    private List<Long> loggedIds(DurableAcks acks) throws IOException {
        acks.close();
        return AckLog.read(dir.resolve("acks")).entries().stream()
                .map(AckLog.Entry::writeId)
                .toList();
    }

    @Test
    void aWriteIsLoggedAtItsFuaReplyOrAtTheReplyOfAFlushSentAfterItsOwn() throws IOException {
        HandReplies target = new HandReplies();
        DurableAcks acks = new DurableAcks(target, AckLog.create(dir.resolve("acks"), 1));
        CompletableFuture<Void> plain = acks.writeAsync(0, stamped(0, 11), false);
        CompletableFuture<Void> fua = acks.writeAsync(4096, stamped(4096, 12), true);
        CompletableFuture<Void> late = acks.writeAsync(8192, stamped(8192, 13), false);

        target.writes.get(0).complete(null); // 11 replied
        target.writes.get(1).complete(null); // 12 replied with FUA: durable
        CompletableFuture<Void> flush = acks.flushAsync(); // covers 11, not 13 (no reply yet)
        assertThat(acks.logged()).isEqualTo(1);
        target.writes.get(2).complete(null); // 13 replied after the flush was sent
        target.flushes.get(0).complete(null);

        assertThat(plain).isDone();
        assertThat(fua).isDone();
        assertThat(late).isDone();
        assertThat(flush).isDone();
        assertThat(acks.logged()).isEqualTo(2);
        assertThat(loggedIds(acks)).containsExactly(12L, 11L);
    }

    @Test
    void aFailedFlushLogsNothingItCovered() throws IOException {
        HandReplies target = new HandReplies();
        DurableAcks acks = new DurableAcks(target, AckLog.create(dir.resolve("acks"), 1));
        acks.writeAsync(0, stamped(0, 21), false);
        target.writes.get(0).complete(null);
        CompletableFuture<Void> flush = acks.flushAsync();
        target.flushes.get(0).completeExceptionally(new IOException("connection lost"));

        assertThat(flush).isCompletedExceptionally();
        // and a later flush does not cover it either: the export never promised it
        acks.flushAsync();
        target.flushes.get(1).complete(null);
        assertThat(acks.logged()).isZero();
        assertThat(loggedIds(acks)).isEmpty();
    }

    @Test
    void aFailedWriteIsNeverLogged() throws IOException {
        HandReplies target = new HandReplies();
        DurableAcks acks = new DurableAcks(target, AckLog.create(dir.resolve("acks"), 1));
        CompletableFuture<Void> w = acks.writeAsync(0, stamped(0, 31), true);
        target.writes.get(0).completeExceptionally(new IOException("EIO"));
        acks.flushAsync();
        target.flushes.get(0).complete(null);
        assertThat(w).isCompletedExceptionally();
        assertThat(loggedIds(acks)).isEmpty();
    }
}
