package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Seeded fuzzing of the export on a real array: garbage and mutated handshakes, and streams of
 * requests that are invalid by construction (misaligned, out of range, oversized, unknown
 * command or flag, bad magic, cut short), mixed with reads. Every refused request must get the
 * spec's error with its handle or end in a disconnect; the server must keep serving; and the
 * legs must be byte for byte what they were, since nothing sent may write. Replay a failure
 * with its seed.
 */
class NbdFuzzTest {
    private static final long SIZE = 16L << 20;
    private static final int SESSIONS = 40;

    @TempDir
    java.nio.file.Path dir;

    private Random rnd;
    private int bs;
    private long size;
    private int port;

    @ParameterizedTest(name = "seed {0}")
    @ValueSource(longs = {1, 2, 3, 4, 5})
    void nothingSentTouchesDataOrStopsTheServer(long seed) throws Exception {
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            rnd = new Random(seed);
            bs = x.array.logicalBlockSize();
            size = x.array.size();
            port = x.port();
            List<String> before = x.legDigests();
            for (int i = 0; i < SESSIONS; i++) {
                int kind = rnd.nextInt(4);
                String what = "seed " + seed + ", session " + i + " (kind " + kind + ")";
                switch (kind) {
                    case 0 -> garbage();
                    case 1 -> mutatedOptions(what);
                    case 2 -> invalidRequests(what);
                    default -> flippedHandshake();
                }
            }
            // still serving, and still in step with a well-behaved client
            try (RawNbdClient c = new RawNbdClient(port).handshake()) {
                assertThat(c.go("md0").type())
                        .as("seed %d: GO after fuzzing", seed)
                        .isEqualTo(NbdProtocol.REP_ACK);
                c.request(0, NbdProtocol.CMD_READ, 1, 0, bs, null);
                assertThat(c.reply().error()).isZero();
                c.readBytes(bs);
            }
            await().atMost(Duration.ofSeconds(30)).until(() -> x.server.connectionCount() == 0);
            assertThat(x.legDigests())
                    .as("seed %d: leg contents after fuzzing", seed)
                    .isEqualTo(before);
        }
    }

    /** Random bytes from the start, sometimes after a valid client-flags word. */
    private void garbage() throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(200);
            OutputStream out = s.getOutputStream();
            if (rnd.nextBoolean()) out.write(new byte[] {0, 0, 0, 3});
            byte[] junk = new byte[1 + rnd.nextInt(300)];
            rnd.nextBytes(junk);
            out.write(junk);
            out.flush();
            drain(s.getInputStream());
        }
    }

    /** Options with random numbers and data; each must be answered for what it is, or end the session. */
    private void mutatedOptions(String what) throws IOException {
        try (RawNbdClient c = new RawNbdClient(port)) {
            c.greeting();
            if (rnd.nextInt(5) == 0) {
                c.clientFlags(rnd.nextInt() | 0x4); // a flag the server did not offer
                assertThat(c.closedByServer()).as(what).isTrue();
                return;
            }
            c.clientFlags(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | (rnd.nextBoolean() ? NbdProtocol.FLAG_C_NO_ZEROES : 0));
            for (int n = 1 + rnd.nextInt(6); n > 0; n--) {
                int[] options = {
                    NbdProtocol.OPT_ABORT,
                    NbdProtocol.OPT_LIST,
                    NbdProtocol.OPT_INFO,
                    NbdProtocol.OPT_GO,
                    NbdProtocol.OPT_STARTTLS,
                    NbdProtocol.OPT_STRUCTURED_REPLY,
                    4,
                    9,
                    10,
                    11,
                    rnd.nextInt()
                };
                int opt = options[rnd.nextInt(options.length)];
                byte[] data = new byte[rnd.nextInt(3) == 0 ? 0 : rnd.nextInt(64)];
                rnd.nextBytes(data);
                c.option(opt, data);
                RawNbdClient.OptionReply r;
                do {
                    r = c.optionReply();
                    assertThat(r.magic()).as(what).isEqualTo(NbdProtocol.OPTION_REPLY_MAGIC);
                    assertThat(r.option()).as(what).isEqualTo(opt);
                } while (r.type() == NbdProtocol.REP_INFO || r.type() == NbdProtocol.REP_SERVER);
                switch (opt) {
                    case NbdProtocol.OPT_ABORT -> {
                        assertThat(r.type()).as(what).isEqualTo(NbdProtocol.REP_ACK);
                        assertThat(c.closedByServer()).as(what).isTrue();
                        return;
                    }
                    case NbdProtocol.OPT_LIST ->
                        assertThat(r.type())
                                .as(what)
                                .isEqualTo(data.length == 0 ? NbdProtocol.REP_ACK : NbdProtocol.REP_ERR_INVALID);
                    case NbdProtocol.OPT_INFO, NbdProtocol.OPT_GO -> {
                        // random data is a valid request for an export only when it names md0 or the default one
                        assertThat(r.type())
                                .as(what)
                                .isIn(NbdProtocol.REP_ERR_INVALID, NbdProtocol.REP_ERR_UNKNOWN, NbdProtocol.REP_ACK);
                        if (r.type() == NbdProtocol.REP_ACK && opt == NbdProtocol.OPT_GO) return; // in transmission now
                    }
                    default -> assertThat(r.type()).as(what).isEqualTo(NbdProtocol.REP_ERR_UNSUP);
                }
            }
        }
    }

    /** A session in transmission: requests invalid by construction with the error each must get, and reads. */
    private void invalidRequests(String what) throws IOException {
        try (RawNbdClient c = new RawNbdClient(port).handshake()) {
            assertThat(c.go("md0").type()).as(what).isEqualTo(NbdProtocol.REP_ACK);
            int n = 1 + rnd.nextInt(20);
            for (long handle = 1; handle <= n; handle++) {
                long blocks = size / bs;
                long aligned = (long) rnd.nextInt((int) blocks) * bs;
                int mis = 1 + rnd.nextInt(bs - 1);
                int expected = 22;
                boolean data = false;
                switch (rnd.nextInt(12)) {
                    case 0 -> c.request(0, NbdProtocol.CMD_READ, handle, aligned + mis, bs, null);
                    case 1 -> c.request(0, NbdProtocol.CMD_READ, handle, aligned, bs + mis, null);
                    case 2 -> c.request(0, NbdProtocol.CMD_READ, handle, size, bs, null);
                    case 3 -> {
                        c.request(0, NbdProtocol.CMD_WRITE, handle, size - bs, 2 * bs, junk(2 * bs));
                        expected = 28;
                    }
                    case 4 -> c.request(0, NbdProtocol.CMD_WRITE, handle, aligned + mis, bs, junk(bs));
                    case 5 ->
                        c.request(1 << (1 + rnd.nextInt(15)), NbdProtocol.CMD_WRITE, handle, aligned, bs, junk(bs));
                    case 6 -> c.request(0, 5 + rnd.nextInt(60000), handle, aligned, 0, null);
                    case 7 -> c.request(0, NbdProtocol.CMD_WRITE, handle, aligned, 0, null);
                    case 8 -> c.request(0, NbdProtocol.CMD_FLUSH, handle, aligned + bs, bs, null);
                    case 9 -> c.request(0, NbdProtocol.CMD_TRIM, handle, aligned, (int) (size - aligned + bs), null);
                    case 10 -> {
                        c.request(0, NbdProtocol.CMD_FLUSH, handle, 0, 0, null);
                        expected = 0;
                    }
                    default -> {
                        c.request(0, NbdProtocol.CMD_READ, handle, aligned, bs, null);
                        expected = 0;
                        data = true;
                    }
                }
                RawNbdClient.SimpleReply r = c.reply();
                assertThat(r.magic()).as(what).isEqualTo(NbdProtocol.SIMPLE_REPLY_MAGIC);
                assertThat(r.handle()).as(what).isEqualTo(handle);
                assertThat(r.error()).as("%s: request %d", what, handle).isEqualTo(expected);
                if (data) c.readBytes(bs);
            }
            switch (rnd.nextInt(4)) {
                case 0 -> { // bad magic
                    c.out.writeInt(rnd.nextInt() | 1);
                    c.out.write(junk(24));
                    c.out.flush();
                    assertThat(c.closedByServer()).as(what).isTrue();
                }
                case 1 -> { // a payload too large to hold
                    c.request(0, NbdProtocol.CMD_WRITE, 99, 0, NbdServer.DEFAULT_MAX_PAYLOAD + bs, null);
                    assertThat(c.closedByServer()).as(what).isTrue();
                }
                case 2 -> { // cut short: half a write, then gone
                    c.out.writeInt(NbdProtocol.REQUEST_MAGIC);
                    c.out.writeShort(0);
                    c.out.writeShort(NbdProtocol.CMD_WRITE);
                    c.out.writeLong(100);
                    c.out.writeLong(0);
                    c.out.writeInt(2 * bs);
                    c.out.write(junk(bs));
                    c.out.flush();
                }
                default -> c.request(0, NbdProtocol.CMD_DISC, 0, 0, 0, null);
            }
        }
    }

    /** A valid handshake and reads, with bytes of the handshake flipped; whatever follows must not hurt. */
    private void flippedHandshake() throws IOException {
        ByteBuffer t = ByteBuffer.allocate(4096);
        t.putInt(NbdProtocol.FLAG_C_FIXED_NEWSTYLE | NbdProtocol.FLAG_C_NO_ZEROES);
        putOption(t, NbdProtocol.OPT_LIST, new byte[0]);
        putOption(t, NbdProtocol.OPT_INFO, RawNbdClient.infoData("md0", NbdProtocol.INFO_BLOCK_SIZE));
        if (rnd.nextBoolean())
            putOption(t, NbdProtocol.OPT_GO, RawNbdClient.infoData("md0", NbdProtocol.INFO_BLOCK_SIZE));
        else putOption(t, NbdProtocol.OPT_EXPORT_NAME, "md0".getBytes(StandardCharsets.UTF_8));
        int handshakeEnd = t.position();
        for (int i = 0; i < 3; i++) {
            // only reads follow: a flip can shift where requests are parsed, never turn one into a write
            t.putInt(NbdProtocol.REQUEST_MAGIC)
                    .putShort((short) 0)
                    .putShort((short) NbdProtocol.CMD_READ)
                    .putLong(i)
                    .putLong((long) i * bs)
                    .putInt(bs);
        }
        byte[] bytes = new byte[t.position()];
        t.flip().get(bytes);
        for (int f = 1 + rnd.nextInt(4); f > 0; f--) bytes[rnd.nextInt(handshakeEnd)] ^= (byte) (1 << rnd.nextInt(8));
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(200);
            s.getInputStream().readNBytes(18);
            s.getOutputStream().write(bytes);
            s.getOutputStream().flush();
            drain(s.getInputStream());
        }
    }

    private static void putOption(ByteBuffer t, int option, byte[] data) {
        t.putLong(NbdProtocol.OPTS_MAGIC).putInt(option).putInt(data.length).put(data);
    }

    private byte[] junk(int n) {
        byte[] b = new byte[n];
        rnd.nextBytes(b);
        return b;
    }

    /** Reads what the server sends until it closes or goes quiet. */
    private static void drain(InputStream in) throws IOException {
        byte[] buf = new byte[8192];
        try {
            while (in.read(buf) >= 0) {
                // the server's answers to garbage are not checked here, only that it survives them
            }
        } catch (SocketTimeoutException | SocketException e) {
            // quiet or reset: either ends the session
        }
    }
}
