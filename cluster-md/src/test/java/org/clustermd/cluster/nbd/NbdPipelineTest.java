package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_DISC;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLAG_FUA;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_TRIM;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Many requests in one socket write, so the server decodes them from one read and issues their
 * writes in one engine submit batch (docs/nbd-cost.md), against a real 2-leg array on files:
 * every request answered once, the data on both legs, a FLUSH answered only once the writes
 * before it are there, and a disconnect in the middle of a batch losing nothing it had issued.
 */
class NbdPipelineTest {
    private static final long SIZE = 16L << 20;
    private static final int BLOCK = 4096;
    private static final int ENOSPC = 28;

    @TempDir
    Path dir;

    /** Requests encoded back to back, to go out in one write. */
    private static final class Burst {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private final DataOutputStream out = new DataOutputStream(bytes);

        Burst request(int flags, int type, long handle, long offset, int length, byte[] payload) throws IOException {
            RawNbdClient.writeRequest(out, flags, type, handle, offset, length, payload);
            return this;
        }

        Burst write(long handle, long offset, byte[] data) throws IOException {
            return request(0, CMD_WRITE, handle, offset, data.length, data);
        }

        Burst raw(byte[] b) throws IOException {
            out.write(b);
            return this;
        }

        void sendOn(RawNbdClient c) throws IOException {
            c.out.write(bytes.toByteArray());
            c.out.flush();
        }
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (seed * 31 + i * 7 + 1);
        return b;
    }

    private static RawNbdClient transmitting(TestExport x) throws IOException {
        RawNbdClient c = new RawNbdClient(x.port()).handshake();
        assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);
        return c;
    }

    private static void assertOnBothLegs(TestExport x, long offset, byte[] data) throws IOException {
        for (int leg = 0; leg < 2; leg++) {
            assertThat(x.legBytes(leg, offset, data.length))
                    .as("leg %d at %d", leg, offset)
                    .isEqualTo(data);
        }
    }

    @Test
    void aFlushBehindPipelinedWritesIsAnsweredOnlyWhenAllOfThemAreOnBothLegs() throws IOException {
        try (TestExport x = TestExport.start(dir, 2, SIZE);
                RawNbdClient c = transmitting(x)) {
            int writes = 48;
            Burst burst = new Burst();
            for (int i = 0; i < writes; i++) burst.write(i, (long) i * 3 * BLOCK, pattern(i));
            burst.request(0, CMD_FLUSH, 1000, 0, 0, null);
            burst.sendOn(c);

            boolean[] answered = new boolean[writes];
            while (true) {
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.magic()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
                assertThat(r.error()).as("error of request %d", r.handle()).isZero();
                if (r.handle() == 1000) break;
                assertThat(answered[(int) r.handle()])
                        .as("second reply to %d", r.handle())
                        .isFalse();
                answered[(int) r.handle()] = true;
            }
            // the flush acknowledged every write sent before it, answered or not yet
            for (int i = 0; i < writes; i++) assertOnBothLegs(x, (long) i * 3 * BLOCK, pattern(i));
            for (int i = 0; i < writes; i++) {
                if (answered[i]) continue;
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.error()).isZero();
                answered[(int) r.handle()] = true;
            }
            assertThat(answered).doesNotContain(false);
        }
    }

    @Test
    void mixedRequestsInOneReadAreEachAnsweredOnceAndRight() throws IOException {
        try (TestExport x = TestExport.start(dir, 2, SIZE);
                RawNbdClient c = transmitting(x)) {
            long a = 1L << 20;
            c.request(0, CMD_WRITE, 1, a, BLOCK, pattern(100));
            assertThat(c.reply().error()).isZero();

            long b = 2L << 20;
            long d = 3L << 20;
            Burst burst = new Burst()
                    .write(10, b, pattern(10))
                    .request(CMD_FLAG_FUA, CMD_WRITE, 11, b + BLOCK, BLOCK, pattern(11))
                    .request(0, CMD_READ, 12, a, BLOCK, null)
                    // refused: its payload is skipped and the requests behind it still decode
                    .request(0, CMD_WRITE, 13, SIZE, BLOCK, pattern(13))
                    .request(0, CMD_TRIM, 14, 4L << 20, BLOCK, null)
                    .request(0, CMD_FLUSH, 15, 0, 0, null)
                    .write(16, d, pattern(16))
                    .request(0, CMD_READ, 17, a, BLOCK, null)
                    .write(18, d + BLOCK, pattern(18));
            burst.sendOn(c);

            Map<Long, Integer> errors = new HashMap<>();
            for (int i = 0; i < 9; i++) {
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.magic()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
                assertThat(errors.put(r.handle(), r.error()))
                        .as("second reply to %d", r.handle())
                        .isNull();
                if (r.handle() == 12 || r.handle() == 17) {
                    assertThat(c.readBytes(BLOCK)).as("READ %d", r.handle()).isEqualTo(pattern(100));
                }
            }
            assertThat(errors).containsEntry(13L, ENOSPC);
            errors.remove(13L);
            assertThat(errors.keySet()).containsExactlyInAnyOrder(10L, 11L, 12L, 14L, 15L, 16L, 17L, 18L);
            assertThat(errors.values()).containsOnly(0);

            long[][] written = {{b, 10}, {b + BLOCK, 11}, {d, 16}, {d + BLOCK, 18}};
            for (long[] w : written) {
                c.request(0, CMD_READ, 50, w[0], BLOCK, null);
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.error()).isZero();
                assertThat(c.readBytes(BLOCK)).isEqualTo(pattern(w[1]));
                assertOnBothLegs(x, w[0], pattern(w[1]));
            }
        }
    }

    @Test
    void moreRequestsInOneWriteThanMayBeInFlightAreAllAnswered() throws IOException {
        // the connection pauses and resumes reading many times within what one write sent
        try (TestExport x = TestExport.start(dir, 2, SIZE, b -> b.maxInFlight(8));
                RawNbdClient c = transmitting(x)) {
            int writes = 300;
            Burst burst = new Burst();
            for (int i = 0; i < writes; i++) burst.write(i, (long) i * BLOCK, pattern(i));
            burst.request(0, CMD_FLUSH, writes, 0, 0, null);
            burst.sendOn(c);
            boolean[] answered = new boolean[writes + 1];
            for (int i = 0; i <= writes; i++) {
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.error()).as("error of request %d", r.handle()).isZero();
                assertThat(answered[(int) r.handle()])
                        .as("second reply to %d", r.handle())
                        .isFalse();
                answered[(int) r.handle()] = true;
            }
            for (int i = 0; i < writes; i++) assertOnBothLegs(x, (long) i * BLOCK, pattern(i));
        }
    }

    @Test
    void aDisconnectBehindPipelinedWritesAnswersThemAllFirst() throws IOException {
        try (TestExport x = TestExport.start(dir, 2, SIZE);
                RawNbdClient c = transmitting(x)) {
            int writes = 32;
            Burst burst = new Burst();
            for (int i = 0; i < writes; i++) burst.write(i, (long) i * BLOCK, pattern(i + 500));
            burst.request(0, CMD_DISC, 99, 0, 0, null);
            burst.sendOn(c);
            boolean[] answered = new boolean[writes];
            for (int i = 0; i < writes; i++) {
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.error()).isZero();
                answered[(int) r.handle()] = true;
            }
            assertThat(answered).doesNotContain(false);
            assertThat(c.closedByServer()).isTrue();
            for (int i = 0; i < writes; i++) assertOnBothLegs(x, (long) i * BLOCK, pattern(i + 500));
        }
    }

    @Test
    void garbageBehindPipelinedWritesDropsTheClientButNotTheWritesItIssued() throws IOException {
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            int writes = 32;
            try (RawNbdClient c = transmitting(x)) {
                Burst burst = new Burst();
                for (int i = 0; i < writes; i++) burst.write(i, (long) i * BLOCK, pattern(i + 700));
                byte[] garbage = new byte[NbdProtocol.REQUEST_HEADER];
                Arrays.fill(garbage, (byte) 0x5a);
                burst.raw(garbage).sendOn(c);
                // replies that made it out before the close are fine; then the server hangs up
                while (true) {
                    try {
                        RawNbdClient.SimpleReply r = c.reply();
                        assertThat(r.magic()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
                        assertThat(r.error()).isZero();
                    } catch (IOException closed) {
                        break;
                    }
                }
            }
            await().atMost(Duration.ofSeconds(20)).until(() -> x.server.connectionCount() == 0);
            // what was issued before the garbage was decoded still went to both legs, unanswered
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                for (int i = 0; i < writes; i++) assertOnBothLegs(x, (long) i * BLOCK, pattern(i + 700));
            });
            // and the array took new work afterwards
            try (RawNbdClient c = transmitting(x)) {
                new Burst()
                        .write(1, 8L << 20, pattern(900))
                        .request(0, CMD_FLUSH, 2, 0, 0, null)
                        .sendOn(c);
                assertThat(c.reply().error()).isZero();
                assertThat(c.reply().error()).isZero();
                assertOnBothLegs(x, 8L << 20, pattern(900));
            }
        }
    }
}
