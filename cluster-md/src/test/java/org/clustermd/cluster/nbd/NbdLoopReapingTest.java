package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * The event loop reaps the disk completions of the writes it issued (docs/nbd-cost.md, issue
 * 13's P5b), against a real 2-leg array on files behind real sockets: every write the loop
 * issued completes on an {@code nbd-io} thread, not on the AIO reaper; a lone write, with the
 * loop asleep in epoll_wait meanwhile, is still answered (its completion's eventfd signal is
 * what wakes the loop); and the data is on both legs when a FLUSH behind a burst is answered.
 */
@Timeout(120)
class NbdLoopReapingTest {
    private static final long SIZE = 16L << 20;
    private static final int BLOCK = 4096;

    @TempDir
    Path dir;

    /** The array's target, noting the thread each write issued from the loop completed on. */
    private static final class CompletionThreads extends ForwardingTarget {
        final ConcurrentLinkedQueue<String> threads = new ConcurrentLinkedQueue<>();

        CompletionThreads(NbdTarget array) {
            super(array);
        }

        @Override
        public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
            CompletableFuture<Void> f = array.tryWrite(offset, src, fua);
            // the loop's submit batch holds the legs' iocbs until the read is decoded, so this
            // is registered before the write can complete, and runs where it completes
            if (f != null)
                f.whenComplete((v, t) -> threads.add(Thread.currentThread().getName()));
            return f;
        }
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (seed * 17 + i * 5 + 3);
        return b;
    }

    @Test
    void theLoopReapsItsOwnWritesAndALoneWriteWakesItWhenItCompletes() throws IOException {
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            CompletionThreads target = new CompletionThreads(new Raid1ArrayTarget(x.array));
            try (NbdServer server = NbdServer.builder().port(0).export(target).start();
                    RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
                assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);

                // one at a time: between request and reply the loop has nothing to do but sleep
                int lone = 20;
                for (int i = 0; i < lone; i++) {
                    c.request(0, CMD_WRITE, i, (long) i * 2 * BLOCK, BLOCK, pattern(i));
                    RawNbdClient.SimpleReply r = c.reply();
                    assertThat(r.handle()).isEqualTo(i);
                    assertThat(r.error()).isZero();
                }

                // a burst in one socket write, then a FLUSH behind it
                int burst = 40;
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                DataOutputStream out = new DataOutputStream(bytes);
                for (int i = lone; i < lone + burst; i++) {
                    RawNbdClient.writeRequest(out, 0, CMD_WRITE, i, (long) i * 2 * BLOCK, BLOCK, pattern(i));
                }
                RawNbdClient.writeRequest(out, 0, CMD_FLUSH, 1000, 0, 0, null);
                c.out.write(bytes.toByteArray());
                c.out.flush();
                boolean[] answered = new boolean[lone + burst];
                boolean flushed = false;
                for (int n = 0; n < burst + 1; n++) {
                    RawNbdClient.SimpleReply r = c.reply();
                    assertThat(r.error()).as("error of %d", r.handle()).isZero();
                    if (r.handle() == 1000) {
                        flushed = true;
                        for (int i = lone; i < lone + burst; i++) {
                            assertOnBothLegs(x, (long) i * 2 * BLOCK, pattern(i));
                        }
                        continue;
                    }
                    assertThat(answered[(int) r.handle()]).isFalse();
                    answered[(int) r.handle()] = true;
                }
                assertThat(flushed).isTrue();
            }
            for (int i = 0; i < 20; i++) assertOnBothLegs(x, (long) i * 2 * BLOCK, pattern(i));
            // the loop issued them (the array had its bits set: no wait, no hand-off) and reaped them
            assertThat(target.threads).isNotEmpty().allMatch(t -> t.startsWith("nbd-io"), "an nbd-io thread");
        }
    }

    private static void assertOnBothLegs(TestExport x, long offset, byte[] data) throws IOException {
        for (int leg = 0; leg < 2; leg++) {
            assertThat(x.legBytes(leg, offset, data.length))
                    .as("leg %d at %d", leg, offset)
                    .isEqualTo(data);
        }
    }
}
