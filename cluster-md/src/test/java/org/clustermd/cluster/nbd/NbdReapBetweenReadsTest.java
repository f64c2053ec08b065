package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import io.netty.util.concurrent.EventExecutor;
import io.netty.util.internal.ThreadExecutorMap;
import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.clustermd.raid1.io.AioPoller;
import org.clustermd.raid1.io.IoPlug;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * A write whose legs the disk finished while the event loop was still busy with a socket read
 * is answered before the loop's turn ends, not at the next turn's top (docs/nbd-cost.md, issue
 * 13's P5b at 4 KiB: a completion waited 84 µs on average for the next turn while the loop read
 * the socket again and again).
 *
 * <p>A real 2-leg array on files behind a real socket. The moment is made certain, not raced:
 * the target seen by the export wraps the array's, and when the probed write reaches it (on the
 * loop, inside the socket read that brought it) it hands the legs' iocbs to the kernel at once
 * and waits until the kernel has posted both completions, without reaping them
 * ({@link AioPoller#posted}). Then it queues a task on the loop: tasks run once the turn's
 * reads are done, so the task marks the turn's end. A READ sent just before the write is the
 * marker on the wire: its reply is held until that task, which writes it. So the client sees
 * the write's reply first only if the loop reaped and answered it between the read and the end
 * of the turn; before the change it reaped at the next turn's top, after the READ's reply.
 */
@Timeout(120)
class NbdReapBetweenReadsTest {
    private static final long SIZE = 16L << 20;
    private static final int BLOCK = 4096;
    /** The probed write's offset; the warm-up wrote this chunk, so its bitmap bit is set. */
    private static final long PROBED = 8L * BLOCK;
    /** The marker READ's offset, written by the warm-up. */
    private static final long MARKER = 40L * BLOCK;

    @TempDir
    Path dir;

    /** The array's target, with the probe around one write and one read (see the class comment). */
    private static final class TurnProbe extends ForwardingTarget {
        final CompletableFuture<Void> markerReadOnDisk = new CompletableFuture<>();
        final CompletableFuture<Void> turnEnded = new CompletableFuture<>();
        /** The marker READ's future as the export got it. */
        volatile CompletableFuture<Void> marker;
        /** What went wrong on the loop, for the test to report; null while all is well. */
        volatile String problem;

        volatile boolean armed;

        TurnProbe(NbdTarget array) {
            super(array);
        }

        @Override
        public CompletableFuture<Void> tryWrite(long offset, ByteBuffer src, boolean fua) {
            CompletableFuture<Void> f = array.tryWrite(offset, src, fua);
            if (!armed || offset != PROBED) return f;
            if (f == null) {
                problem = "the probed write was not issued from the loop (its bitmap bit was not set?)";
                turnEnded.complete(null);
                return null;
            }
            AioPoller poller = AioPoller.currentThread();
            if (poller == null) {
                problem = "the probed write ran on " + Thread.currentThread().getName() + ", no reaping loop";
                turnEnded.complete(null);
                return f;
            }
            int before = poller.posted();
            // out of the read's submit batch now, so the disk can finish the legs during this read
            IoPlug.flushHeld();
            // the kernel finishes both legs on its own; only the loop's own poll could end them,
            // and the loop is here, so a poll after this read finds both completions waiting
            while (poller.posted() < before + 2) Thread.onSpinWait();
            EventExecutor loop = ThreadExecutorMap.currentExecutor();
            loop.execute(() -> {
                // The turn's reads are over. The READ's data is read by the submission thread
                // and the shared reaper, so waiting for it here is no wait on the loop itself;
                // and the export hears of the READ's end from the future it got, so that must
                // have its listener (the submission thread adds it after read() returned) or the
                // reply would leave from that thread, whenever it gets a core.
                markerReadOnDisk.join();
                while (marker == null || marker.getNumberOfDependents() == 0) Thread.onSpinWait();
                // the export's listener runs here, on the loop, and writes the READ's reply
                turnEnded.complete(null);
            });
            return f;
        }

        @Override
        public CompletableFuture<Void> read(long offset, ByteBuffer dst) {
            CompletableFuture<Void> f = array.read(offset, dst);
            if (!armed || offset != MARKER) return f;
            f.whenComplete((v, t) -> markerReadOnDisk.complete(null));
            // completes when the loop's end-of-turn task completes turnEnded, on the loop: the
            // export then writes the READ's reply there and then
            CompletableFuture<Void> m = f.thenCombine(turnEnded, (a, b) -> null);
            marker = m;
            return m;
        }
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (seed * 31 + i * 7 + 1);
        return b;
    }

    @Test
    void aWriteTheDiskFinishedDuringASocketReadIsAnsweredBeforeTheTurnEnds() throws IOException {
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            TurnProbe target = new TurnProbe(new Raid1ArrayTarget(x.array));
            // one loop, so the probe's loop is the connection's
            try (NbdServer server = NbdServer.builder()
                            .port(0)
                            .ioThreads(1)
                            .export(target)
                            .start();
                    RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
                assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);

                // warm-up, one at a time: the probed chunk's bit is set, the marker's data known
                c.request(0, CMD_WRITE, 1, PROBED - BLOCK, BLOCK, pattern(1));
                assertThat(c.reply().error()).isZero();
                c.request(0, CMD_WRITE, 2, MARKER, BLOCK, pattern(2));
                assertThat(c.reply().error()).isZero();

                target.armed = true;
                // the marker READ, then the write, in one socket write
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                DataOutputStream out = new DataOutputStream(bytes);
                RawNbdClient.writeRequest(out, 0, CMD_READ, 10, MARKER, BLOCK, null);
                RawNbdClient.writeRequest(out, 0, CMD_WRITE, 11, PROBED, BLOCK, pattern(11));
                c.out.write(bytes.toByteArray());
                c.out.flush();

                List<Long> order = new ArrayList<>();
                for (int i = 0; i < 2; i++) {
                    RawNbdClient.SimpleReply r = c.reply();
                    assertThat(r.error()).as("error of %d", r.handle()).isZero();
                    order.add(r.handle());
                    if (r.handle() == 10) assertThat(c.readBytes(BLOCK)).isEqualTo(pattern(2));
                }
                assertThat(target.problem).isNull();
                assertThat(order)
                        .as("the write's reply before the READ's, which leaves when the turn has ended")
                        .containsExactly(11L, 10L);
            }
            for (int leg = 0; leg < 2; leg++) {
                assertThat(x.legBytes(leg, PROBED, BLOCK)).as("leg %d", leg).isEqualTo(pattern(11));
            }
        }
    }
}
