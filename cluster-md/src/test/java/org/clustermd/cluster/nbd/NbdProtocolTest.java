package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_DISC;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLAG_FUA;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_TRIM;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.UnaryOperator;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The server's side of the protocol, byte by byte, against a recording in-memory target. */
class NbdProtocolTest {
    private static final int SIZE = 1 << 20;
    private static final int BLOCK = 4096;
    private static final int EINVAL = 22;
    private static final int ENOSPC = 28;

    private RecordingTarget target;
    private NbdServer server;

    private void start(UnaryOperator<NbdServer.Builder> settings) throws IOException {
        target = new RecordingTarget(SIZE, BLOCK);
        server = settings.apply(NbdServer.builder().port(0).export(target)).start();
    }

    private void start() throws IOException {
        start(b -> b);
    }

    @AfterEach
    void stop() {
        if (server != null) server.close();
    }

    private RawNbdClient transmitting() throws IOException {
        RawNbdClient c = new RawNbdClient(server.port()).handshake();
        assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);
        return c;
    }

    // ------------------------------------------------------------------ handshake

    @Test
    void greetingOffersFixedNewstyleAndNoZeroesOnLoopbackOnly() throws IOException {
        start();
        assertThat(server.address().getAddress().isLoopbackAddress()).isTrue();
        try (RawNbdClient c = new RawNbdClient(server.port())) {
            assertThat(c.greeting()).isEqualTo(NbdProtocol.FLAG_FIXED_NEWSTYLE | NbdProtocol.FLAG_NO_ZEROES);
        }
    }

    @Test
    void unknownClientFlagsDropTheConnection() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port())) {
            c.greeting();
            c.clientFlags(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | 0x10);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void listNamesTheExportAndRefusesData() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            c.option(NbdProtocol.OPT_LIST, new byte[0]);
            RawNbdClient.OptionReply s = c.optionReply();
            assertThat(s.magic()).isEqualTo(NbdProtocol.OPTION_REPLY_MAGIC);
            assertThat(s.option()).isEqualTo(NbdProtocol.OPT_LIST);
            assertThat(s.type()).isEqualTo(NbdProtocol.REP_SERVER);
            assertThat(s.buf().getInt()).isEqualTo(3);
            assertThat(new String(s.data(), 4, 3, StandardCharsets.UTF_8)).isEqualTo("md0");
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ACK);
            c.option(NbdProtocol.OPT_LIST, new byte[] {1});
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
        }
    }

    @Test
    void unknownOptionsGetErrUnsupAndHagglingGoesOn() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            for (int opt : new int[] {NbdProtocol.OPT_STRUCTURED_REPLY, NbdProtocol.OPT_STARTTLS, 10, 11, 42, 0, -1}) {
                c.option(opt, new byte[] {1, 2, 3});
                RawNbdClient.OptionReply r = c.optionReply();
                assertThat(r.option()).isEqualTo(opt);
                assertThat(r.type()).as("reply to option %d", opt).isEqualTo(NbdProtocol.REP_ERR_UNSUP);
            }
            assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);
        }
    }

    @Test
    void infoReportsExportAndBlockSizesThenGoEntersTransmission() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            c.option(
                    NbdProtocol.OPT_INFO,
                    RawNbdClient.infoData("md0", NbdProtocol.INFO_NAME, NbdProtocol.INFO_BLOCK_SIZE));
            List<RawNbdClient.OptionReply> infos = new ArrayList<>();
            RawNbdClient.OptionReply r;
            while ((r = c.optionReply()).type() == NbdProtocol.REP_INFO) infos.add(r);
            assertThat(r.type()).isEqualTo(NbdProtocol.REP_ACK);
            ByteBuffer export = find(infos, NbdProtocol.INFO_EXPORT);
            assertThat(export.remaining()).isEqualTo(10);
            assertThat(export.getLong()).isEqualTo(SIZE);
            assertThat(export.getShort() & 0xffff)
                    .isEqualTo(NbdProtocol.FLAG_HAS_FLAGS
                            | NbdProtocol.FLAG_SEND_FLUSH
                            | NbdProtocol.FLAG_SEND_FUA
                            | NbdProtocol.FLAG_SEND_TRIM
                            | NbdProtocol.FLAG_CAN_MULTI_CONN);
            ByteBuffer bs = find(infos, NbdProtocol.INFO_BLOCK_SIZE);
            assertThat(new int[] {bs.getInt(), bs.getInt(), bs.getInt()})
                    .containsExactly(BLOCK, BLOCK, NbdServer.DEFAULT_MAX_PAYLOAD);
            ByteBuffer name = find(infos, NbdProtocol.INFO_NAME);
            assertThat(StandardCharsets.UTF_8.decode(name).toString()).isEqualTo("md0");
            // INFO does not end the handshake: the empty name is the default (only) export
            assertThat(c.go("").type()).isEqualTo(NbdProtocol.REP_ACK);
            c.request(0, CMD_READ, 7, 0, BLOCK, null);
            assertThat(c.reply()).isEqualTo(new RawNbdClient.SimpleReply(NbdProtocol.SIMPLE_REPLY_MAGIC, 0, 7));
            assertThat(c.readBytes(BLOCK)).containsOnly(0);
        }
    }

    private static ByteBuffer find(List<RawNbdClient.OptionReply> infos, int type) {
        for (RawNbdClient.OptionReply r : infos) {
            ByteBuffer b = r.buf();
            if (b.getShort() == type) return b;
        }
        throw new AssertionError("no NBD_REP_INFO of type " + type + " among " + infos.size());
    }

    @Test
    void goForAnUnknownOrMalformedExportIsRefusedWithoutEndingTheHandshake() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            RawNbdClient.OptionReply unknown = c.go("md1");
            assertThat(unknown.type()).isEqualTo(NbdProtocol.REP_ERR_UNKNOWN);
            assertThat(new String(unknown.data(), StandardCharsets.UTF_8))
                    .contains("md1")
                    .contains("md0");
            byte[] bad = RawNbdClient.infoData("md0", NbdProtocol.INFO_BLOCK_SIZE);
            ByteBuffer.wrap(bad).putInt(0, 100); // a name longer than the option
            c.option(NbdProtocol.OPT_GO, bad);
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            c.option(NbdProtocol.OPT_GO, new byte[] {0, 0});
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            c.option(
                    NbdProtocol.OPT_GO,
                    Arrays.copyOf(RawNbdClient.infoData("md0"), 10)); // a stray byte after the count
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            c.option(NbdProtocol.OPT_GO, RawNbdClient.infoData("md\u0000"));
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_INVALID);
            assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);
        }
    }

    @Test
    void exportNameRepliesWithOrWithoutZeroesAndDropsUnknownNames() throws IOException {
        start();
        for (boolean noZeroes : new boolean[] {true, false}) {
            try (RawNbdClient c = new RawNbdClient(server.port())) {
                c.greeting();
                c.clientFlags(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | (noZeroes ? NbdProtocol.FLAG_C_NO_ZEROES : 0));
                c.option(NbdProtocol.OPT_EXPORT_NAME, "md0".getBytes(StandardCharsets.UTF_8));
                assertThat(c.in.readLong()).isEqualTo(SIZE);
                assertThat(c.in.readUnsignedShort()).isEqualTo(Export.TRANSMISSION_FLAGS);
                if (!noZeroes) assertThat(c.readBytes(124)).containsOnly(0);
                c.request(0, CMD_READ, 1, 0, BLOCK, null);
                assertThat(c.reply().handle()).isEqualTo(1);
                c.readBytes(BLOCK);
            }
        }
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            c.option(NbdProtocol.OPT_EXPORT_NAME, "nosuch".getBytes(StandardCharsets.UTF_8));
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void abortIsAcknowledgedThenClosed() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            c.option(NbdProtocol.OPT_ABORT, new byte[0]);
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ACK);
            assertThat(c.closedByServer()).isTrue();
        }
    }

    @Test
    void anOptionTooLongToHoldIsSkippedAndRefused() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            c.option(NbdProtocol.OPT_GO, new byte[NbdServer.MAX_OPTION_DATA + 1]);
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_TOO_BIG);
            c.option(77, new byte[1 << 20]);
            assertThat(c.optionReply().type()).isEqualTo(NbdProtocol.REP_ERR_UNSUP);
            assertThat(c.go("md0").type()).isEqualTo(NbdProtocol.REP_ACK);
        }
    }

    @Test
    void aBadOptionMagicDropsTheConnection() throws IOException {
        start();
        try (RawNbdClient c = new RawNbdClient(server.port()).handshake()) {
            c.out.writeLong(0x1234);
            c.out.writeInt(NbdProtocol.OPT_LIST);
            c.out.writeInt(0);
            c.out.flush();
            assertThat(c.closedByServer()).isTrue();
        }
    }

    // ------------------------------------------------------------------ transmission

    @Test
    void writeReadFlushTrimRoundTripWithFua() throws IOException {
        start();
        try (RawNbdClient c = transmitting()) {
            byte[] data = new byte[3 * BLOCK];
            new Random(5).nextBytes(data);
            c.request(CMD_FLAG_FUA, CMD_WRITE, 11, BLOCK, data.length, data);
            assertThat(c.reply()).isEqualTo(new RawNbdClient.SimpleReply(NbdProtocol.SIMPLE_REPLY_MAGIC, 0, 11));
            c.request(0, CMD_READ, 12, BLOCK, data.length, null);
            assertThat(c.reply().error()).isZero();
            assertThat(c.readBytes(data.length)).isEqualTo(data);
            c.request(0, CMD_FLUSH, 13, 0, 0, null);
            assertThat(c.reply().handle()).isEqualTo(13);
            c.request(CMD_FLAG_FUA, CMD_TRIM, 14, 0, SIZE, null); // FUA is valid on every command
            assertThat(c.reply().error()).isZero();
            c.request(0, CMD_DISC, 15, 0, 0, null);
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(target.calls)
                .containsExactly(
                        "write 4096 12288 fua",
                        "write 4096 done",
                        "read 4096 12288",
                        "read 4096 done",
                        "flush",
                        "flush done",
                        "trim 0 1048576");
    }

    @Test
    void badRequestsGetTheSpecsErrorAndNeverReachTheTarget() throws IOException {
        start();
        try (RawNbdClient c = transmitting()) {
            byte[] block = new byte[BLOCK];
            Arrays.fill(block, (byte) 0x77);
            c.request(0, CMD_READ, 1, 512, BLOCK, null); // misaligned offset
            c.request(0, CMD_READ, 2, 0, 512, null); // misaligned length
            c.request(0, CMD_READ, 3, SIZE - BLOCK, 2 * BLOCK, null); // past the end
            c.request(0, CMD_READ, 4, -BLOCK, BLOCK, null); // offset 2^64 - 4096
            c.request(0, CMD_READ, 5, 0, 0, null); // empty
            c.request(0, CMD_READ, 6, 0, NbdServer.DEFAULT_MAX_PAYLOAD + BLOCK, null); // over the maximum payload
            c.request(0, CMD_WRITE, 7, SIZE, BLOCK, block); // write past the end: ENOSPC
            c.request(0, CMD_WRITE, 8, 100, BLOCK, block); // misaligned write, payload skipped
            c.request(0x2, CMD_WRITE, 9, 0, BLOCK, block); // a flag not offered
            c.request(0, CMD_TRIM, 10, SIZE, BLOCK, null); // trim past the end
            c.request(0, CMD_FLUSH, 11, BLOCK, 0, null); // flush with an offset
            c.request(0, 6, 12, 0, BLOCK, null); // WRITE_ZEROES, not offered
            c.request(0, 77, 13, 0, 0, null); // unknown command
            int[] expected = {
                EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, ENOSPC, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL, EINVAL
            };
            for (int i = 0; i < expected.length; i++) {
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.magic()).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
                assertThat(r.handle()).isEqualTo(i + 1);
                assertThat(r.error()).as("error for request %d", i + 1).isEqualTo(expected[i]);
            }
            // the stream is still in step: a good request after the refused writes' skipped payloads works
            c.request(0, CMD_READ, 14, 0, BLOCK, null);
            assertThat(c.reply().error()).isZero();
            assertThat(c.readBytes(BLOCK)).containsOnly(0);
        }
        assertThat(target.calls).containsExactly("read 0 4096", "read 0 done");
    }

    @Test
    void garbageInTransmissionIsAHardDisconnectThatTouchesNothing() throws IOException {
        start();
        try (RawNbdClient c = transmitting()) {
            c.out.writeInt(0xdeadbeef);
            c.out.write(new byte[24]);
            c.out.flush();
            assertThat(c.closedByServer()).isTrue();
        }
        try (RawNbdClient c = transmitting()) {
            c.request(0, CMD_WRITE, 1, 0, NbdServer.DEFAULT_MAX_PAYLOAD + BLOCK, null); // payload too large to hold
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(target.calls).isEmpty();
        assertThat(server.exportNames()).containsExactly("md0");
    }

    @Test
    void repliesMayOvertakeEachOtherAndCarryTheirHandles() throws IOException {
        start();
        try (RawNbdClient c = transmitting()) {
            target.hold.set(true);
            c.request(0, CMD_READ, 100, 0, BLOCK, null);
            await().until(() -> target.heldCount() == 1);
            target.hold.set(false);
            c.request(0, CMD_READ, 200, BLOCK, BLOCK, null);
            assertThat(c.reply().handle()).isEqualTo(200);
            c.readBytes(BLOCK);
            target.release(1);
            assertThat(c.reply().handle()).isEqualTo(100);
            c.readBytes(BLOCK);
        }
    }

    @Test
    void aFlushWaitsForEveryWriteSentBeforeIt() throws IOException {
        start();
        try (RawNbdClient c = transmitting()) {
            target.hold.set(true);
            byte[] block = new byte[BLOCK];
            c.request(0, CMD_WRITE, 1, 0, BLOCK, block);
            c.request(0, CMD_WRITE, 2, BLOCK, BLOCK, block);
            c.request(0, CMD_FLUSH, 3, 0, 0, null);
            await().until(() -> target.heldCount() == 2);
            target.release(1);
            await().until(() -> target.calls.contains("write 0 done"));
            assertThat(target.calls).doesNotContain("flush");
            target.hold.set(false);
            target.release(1);
            Set<Long> handles = new HashSet<>();
            for (int i = 0; i < 3; i++) handles.add(c.reply().handle());
            assertThat(handles).containsExactlyInAnyOrder(1L, 2L, 3L);
        }
        assertThat(target.calls.indexOf("flush")).isGreaterThan(target.calls.indexOf("write 4096 done"));
    }

    @Test
    void aFullConnectionStopsReadingUntilRequestsComplete() throws IOException, InterruptedException {
        start(b -> b.maxInFlight(2));
        try (RawNbdClient c = transmitting()) {
            target.hold.set(true);
            for (int i = 0; i < 6; i++) c.request(0, CMD_READ, i, (long) i * BLOCK, BLOCK, null);
            await().until(() -> target.heldCount() == 2);
            Thread.sleep(300); // room for a wrongly admitted third request to show up
            assertThat(target.heldCount()).isEqualTo(2);
            target.hold.set(false);
            target.release(2);
            Set<Long> handles = new HashSet<>();
            for (int i = 0; i < 6; i++) {
                handles.add(c.reply().handle());
                c.readBytes(BLOCK);
            }
            assertThat(handles).hasSize(6);
        }
    }

    @Test
    void disconnectFinishesWhatIsInFlightFirst() throws IOException {
        start();
        try (RawNbdClient c = transmitting()) {
            target.hold.set(true);
            byte[] block = new byte[BLOCK];
            Arrays.fill(block, (byte) 3);
            c.request(0, CMD_WRITE, 9, 0, BLOCK, block);
            c.request(0, CMD_DISC, 10, 0, 0, null);
            await().until(() -> target.heldCount() == 1);
            target.release(1);
            assertThat(c.reply().handle()).isEqualTo(9);
            assertThat(c.closedByServer()).isTrue();
        }
        assertThat(target.data[0]).isEqualTo((byte) 3);
    }

    @Test
    void closingTheServerFinishesRequestsInFlightThenDisconnects() throws Exception {
        start();
        try (RawNbdClient c = transmitting();
                RawNbdClient idle = new RawNbdClient(server.port()).handshake()) {
            target.hold.set(true);
            c.request(0, CMD_READ, 5, 0, BLOCK, null);
            await().until(() -> target.heldCount() == 1);
            Thread closer = new Thread(server::close, "test-close");
            closer.start();
            // the connections were told to shut down once the one still in its handshake is dropped
            assertThat(idle.closedByServer())
                    .as("a client still in the handshake is dropped")
                    .isTrue();
            assertThat(closer.isAlive())
                    .as("close() waits for the request in flight")
                    .isTrue();
            target.release(1);
            assertThat(c.reply()).isEqualTo(new RawNbdClient.SimpleReply(NbdProtocol.SIMPLE_REPLY_MAGIC, 0, 5));
            c.readBytes(BLOCK);
            assertThat(c.closedByServer()).isTrue();
            closer.join(Timing.millis(30_000));
            assertThat(closer.isAlive()).isFalse();
        }
        assertThatRefused(server.port());
    }

    private static void assertThatRefused(int port) {
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> new RawNbdClient(port).close())
                .isInstanceOf(java.net.ConnectException.class);
    }

    @Test
    void manyClientsAtOnce() throws Exception {
        start();
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<?>> clients = new ArrayList<>();
            for (int k = 0; k < 8; k++) {
                int id = k;
                clients.add(pool.submit(() -> {
                    try (RawNbdClient c = transmitting()) {
                        Random rnd = new Random(id);
                        long base = (long) id * (SIZE / 8);
                        byte[] data = new byte[SIZE / 8];
                        rnd.nextBytes(data);
                        for (int i = 0; i < data.length / BLOCK; i++) {
                            c.request(
                                    0,
                                    CMD_WRITE,
                                    i,
                                    base + (long) i * BLOCK,
                                    BLOCK,
                                    Arrays.copyOfRange(data, i * BLOCK, (i + 1) * BLOCK));
                        }
                        for (int i = 0; i < data.length / BLOCK; i++)
                            assertThat(c.reply().error()).isZero();
                        c.request(0, CMD_READ, 999, base, data.length, null);
                        assertThat(c.reply().handle()).isEqualTo(999);
                        assertThat(c.readBytes(data.length)).isEqualTo(data);
                    }
                    return null;
                }));
            }
            for (Future<?> f : clients) f.get();
        } finally {
            pool.shutdownNow();
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> server.connectionCount() == 0);
    }
}
