package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.clustermd.raid1.RecordingClusterOperations;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The write-lease fence through the export: writes decoded from one socket read and issued in
 * one submit batch are held while the lease is not valid, exactly as the engine holds any
 * write (nothing reaches a leg, no reply), go out and are answered when it is back, and fail
 * when the lease is revoked. A READ behind the writes, answered while they are held, proves
 * the server had already handed them to the array.
 */
class NbdLeaseTest {
    private static final long SIZE = 16L << 20;
    private static final int BLOCK = 4096;
    private static final int WRITES = 24;
    private static final long READ_HANDLE = 1000;

    @TempDir
    Path dir;

    private RecordingClusterOperations ops;

    @AfterEach
    void renew() {
        if (ops != null) ops.lease.renew(); // so closing the array never waits for the lease
    }

    private TestExport export() throws IOException {
        ops = new RecordingClusterOperations(new AtomicLong());
        // an array that stays active and keeps its bits, so nothing but the lease can hold a write
        return TestExport.start(
                dir,
                2,
                SIZE,
                b -> b,
                a -> a.cluster(ops)
                        .ioWait(Duration.ofSeconds(60))
                        .safemodeDelay(Duration.ofHours(1))
                        .bitmapDaemon(false));
    }

    /** A write in the bitmap chunk of the burst's writes: the array is active and the chunk's bit set. */
    private static void prime(RawNbdClient c) throws IOException {
        c.request(0, CMD_WRITE, 500, 512 << 10, BLOCK, pattern(500));
        assertThat(c.reply().error()).isZero();
    }

    private static byte[] pattern(long seed) {
        byte[] b = new byte[BLOCK];
        for (int i = 0; i < b.length; i++) b[i] = (byte) (seed * 13 + i * 5 + 3);
        return b;
    }

    private static RawNbdClient transmitting(TestExport x) throws IOException {
        RawNbdClient c = new RawNbdClient(x.port()).handshake();
        assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);
        return c;
    }

    /** WRITES writes, a FLUSH, then a READ of a block none of them touches, in one socket write. */
    private static void sendBurst(RawNbdClient c) throws IOException {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        DataOutputStream out = new DataOutputStream(bytes);
        for (int i = 0; i <= WRITES + 1; i++) {
            int type = i < WRITES ? CMD_WRITE : i == WRITES ? CMD_FLUSH : CMD_READ;
            out.writeInt(NbdProtocol.REQUEST_MAGIC);
            out.writeShort(0);
            out.writeShort(type);
            out.writeLong(i < WRITES ? i : i == WRITES ? WRITES : READ_HANDLE);
            out.writeLong(i < WRITES ? (long) i * BLOCK : i == WRITES ? 0 : 8L << 20);
            out.writeInt(type == CMD_FLUSH ? 0 : BLOCK);
            if (type == CMD_WRITE) out.write(pattern(i));
        }
        c.out.write(bytes.toByteArray());
        c.out.flush();
    }

    private static void assertNoWriteOnTheLegs(TestExport x) throws IOException {
        for (int i = 0; i < WRITES; i++) {
            for (int leg = 0; leg < 2; leg++) {
                assertThat(x.legBytes(leg, (long) i * BLOCK, BLOCK)).isEqualTo(new byte[BLOCK]);
            }
        }
    }

    /** Reads replies until the READ's; it must come first, while the writes and the flush are held. */
    private static void awaitTheReadFirst(RawNbdClient c) throws IOException {
        RawNbdClient.SimpleReply r = c.reply();
        assertThat(r.handle()).as("the first reply is the READ's").isEqualTo(READ_HANDLE);
        assertThat(r.error()).isZero();
        assertThat(c.readBytes(BLOCK)).isEqualTo(new byte[BLOCK]);
    }

    private static Map<Long, Integer> replies(RawNbdClient c, int n) throws IOException {
        Map<Long, Integer> errors = new HashMap<>();
        for (int i = 0; i < n; i++) {
            RawNbdClient.SimpleReply r = c.reply();
            assertThat(r.magic()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
            assertThat(errors.put(r.handle(), r.error()))
                    .as("second reply to %d", r.handle())
                    .isNull();
        }
        return errors;
    }

    @Test
    void pipelinedWritesAreHeldWhileTheLeaseIsInvalidAndGoOutWhenItIsBack() throws IOException {
        try (TestExport x = export();
                RawNbdClient c = transmitting(x)) {
            prime(c);
            ops.lease.expire();
            try {
                sendBurst(c);
                awaitTheReadFirst(c);
                assertNoWriteOnTheLegs(x);
            } finally {
                ops.lease.renew(); // also before a failed test closes the array, which writes its superblocks
            }
            Map<Long, Integer> errors = replies(c, WRITES + 1);
            assertThat(errors).hasSize(WRITES + 1);
            assertThat(errors.values()).containsOnly(0);
            for (int i = 0; i < WRITES; i++) {
                for (int leg = 0; leg < 2; leg++) {
                    assertThat(x.legBytes(leg, (long) i * BLOCK, BLOCK)).isEqualTo(pattern(i));
                }
            }
        }
    }

    @Test
    void pipelinedWritesHeldWhenTheLeaseIsRevokedFailAndNeverReachALeg() throws IOException {
        try (TestExport x = export();
                RawNbdClient c = transmitting(x)) {
            prime(c);
            ops.lease.expire();
            try {
                sendBurst(c);
                awaitTheReadFirst(c);
            } finally {
                ops.lease.revoke();
            }
            Map<Long, Integer> errors = replies(c, WRITES + 1);
            for (long i = 0; i < WRITES; i++) {
                assertThat(errors.get(i)).as("write %d", i).isNotNull().isNotZero();
            }
            assertNoWriteOnTheLegs(x);
        }
    }
}
