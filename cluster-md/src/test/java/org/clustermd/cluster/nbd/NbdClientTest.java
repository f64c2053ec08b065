package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link NbdClient} against the real {@link NbdServer} exporting a real array on leg files. */
class NbdClientTest {
    private static final long ARRAY = 8L << 20;
    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    @TempDir
    Path dir;

    private TestExport export;

    @AfterEach
    void stop() {
        if (export != null) export.close();
    }

    private NbdClient connect() throws IOException {
        return NbdClient.connect(new InetSocketAddress("127.0.0.1", export.port()), "md0", TIMEOUT);
    }

    private static ByteBuffer pattern(int bytes, long seed) {
        byte[] b = new byte[bytes];
        new Random(seed).nextBytes(b);
        return ByteBuffer.wrap(b);
    }

    /** docs/md-cluster-protocol.md §f.7: the export reads the array's size at each handshake. */
    @Test
    void aGrownArrayIsAdvertisedToNewConnectionsAndAClientConnectedBeforeKeepsItsSize() throws Exception {
        export = TestExport.start(dir, 2, ARRAY);
        try (NbdClient before = connect()) {
            export.array.growSize((ARRAY + (4L << 20)) / 512);
            assertThat(before.size()).isEqualTo(ARRAY);
            before.writeAsync(ARRAY - 4096, pattern(4096, 3), true).join();
            try (NbdClient after = connect()) {
                assertThat(after.size()).isEqualTo(ARRAY + (4L << 20));
                after.writeAsync(ARRAY + 4096, pattern(4096, 4), true).join();
                ByteBuffer back = ByteBuffer.allocate(4096);
                after.readAsync(ARRAY + 4096, back).join();
                assertThat(back).isEqualTo(pattern(4096, 4));
            }
        }
    }

    @Test
    void negotiatesTheExportAndItsWritesReachEveryLeg() throws IOException {
        export = TestExport.start(dir, 2, ARRAY);
        try (NbdClient c = connect()) {
            assertThat(c.size()).isEqualTo(ARRAY);
            assertThat(c.minimumBlockSize()).isEqualTo(export.array.logicalBlockSize());
            assertThat(c.acceptsFua()).isTrue();

            c.writeAsync(4096, pattern(8192, 1), true).join();
            c.writeAsync(1 << 20, pattern(4096, 2), false).join();
            c.flushAsync().join();

            ByteBuffer back = ByteBuffer.allocate(8192);
            c.readAsync(4096, back).join();
            assertThat(back.array()).isEqualTo(pattern(8192, 1).array());
            for (int leg = 0; leg < 2; leg++) {
                assertThat(export.legBytes(leg, 4096, 8192))
                        .isEqualTo(pattern(8192, 1).array());
                assertThat(export.legBytes(leg, 1 << 20, 4096))
                        .isEqualTo(pattern(4096, 2).array());
            }
        }
    }

    @Test
    void manyRequestsInFlightEachGetTheirOwnReply() throws IOException {
        export = TestExport.start(dir, 2, ARRAY);
        try (NbdClient c = connect()) {
            List<CompletableFuture<Void>> writes = new ArrayList<>();
            for (int i = 0; i < 256; i++) writes.add(c.writeAsync(i * 16384L, pattern(16384, 100 + i), i % 7 == 0));
            CompletableFuture.allOf(writes.toArray(CompletableFuture[]::new)).join();
            c.flushAsync().join();

            List<ByteBuffer> reads = new ArrayList<>();
            List<CompletableFuture<Void>> pending = new ArrayList<>();
            for (int i = 0; i < 256; i++) {
                ByteBuffer b = ByteBuffer.allocateDirect(16384);
                reads.add(b);
                pending.add(c.readAsync(i * 16384L, b));
            }
            CompletableFuture.allOf(pending.toArray(CompletableFuture[]::new)).join();
            for (int i = 0; i < 256; i++) {
                byte[] got = new byte[16384];
                reads.get(i).get(0, got);
                assertThat(Arrays.equals(got, pattern(16384, 100 + i).array()))
                        .as("block run %d", i)
                        .isTrue();
            }
            assertThat(c.inFlight()).isZero();
        }
    }

    @Test
    void aRequestTheServerRefusesFailsWithItsErrorAndTheConnectionGoesOn() throws IOException {
        export = TestExport.start(dir, 2, ARRAY);
        try (NbdClient c = connect()) {
            assertThatThrownBy(
                            () -> c.readAsync(ARRAY, ByteBuffer.allocate(4096)).join())
                    .isInstanceOf(CompletionException.class)
                    .cause()
                    .isInstanceOfSatisfying(NbdClientException.class, e -> {
                        assertThat(e.code()).isEqualTo(NbdClientException.Code.ERROR_REPLY);
                        assertThat(e.error()).isEqualTo(NbdError.EINVAL);
                        assertThat(e.getMessage()).contains("NBD_CMD_READ", "at " + ARRAY);
                    });
            c.writeAsync(0, pattern(4096, 3), true).join();
        }
    }

    @Test
    void anExportThatIsNotThereIsRefusedByName() throws IOException {
        export = TestExport.start(dir, 2, ARRAY);
        assertThatThrownBy(() -> NbdClient.connect(new InetSocketAddress("127.0.0.1", export.port()), "md9", TIMEOUT))
                .isInstanceOfSatisfying(NbdClientException.class, e -> {
                    assertThat(e.code()).isEqualTo(NbdClientException.Code.REFUSED);
                    assertThat(e.getMessage()).contains("md9", "no such export");
                });
    }

    @Test
    void aPortWithNoServerIsUnreachable() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        assertThatThrownBy(() -> NbdClient.connect(new InetSocketAddress("127.0.0.1", port), "md0", TIMEOUT))
                .isInstanceOfSatisfying(
                        NbdClientException.class,
                        e -> assertThat(e.code()).isEqualTo(NbdClientException.Code.UNREACHABLE));
    }

    @Test
    void whenTheServerGoesAwayEveryLaterRequestFailsAsDisconnected() throws IOException {
        export = TestExport.start(dir, 2, ARRAY);
        try (NbdClient c = connect()) {
            c.writeAsync(0, pattern(4096, 4), false).join();
            export.server.close();
            // the server's close ends the connection; the reader sees it and fails what follows
            CompletableFuture<Void> late = c.readAsync(0, ByteBuffer.allocate(4096));
            assertThatThrownBy(late::join)
                    .cause()
                    .isInstanceOfSatisfying(
                            NbdClientException.class,
                            e -> assertThat(e.code()).isEqualTo(NbdClientException.Code.DISCONNECTED));
            assertThatThrownBy(() -> c.flushAsync().join())
                    .cause()
                    .isInstanceOfSatisfying(
                            NbdClientException.class,
                            e -> assertThat(e.code()).isEqualTo(NbdClientException.Code.DISCONNECTED));
        }
    }

    @Test
    void aServerThatIsNotNbdOrSaysNothingIsRefused() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 4, InetAddress.getLoopbackAddress())) {
            Thread talker = new Thread(() -> {
                try (Socket http = s.accept()) {
                    http.getOutputStream().write("HTTP/1.1 400 Bad Request\r\n\r\n".getBytes());
                    http.getOutputStream().flush();
                    try (Socket silent = s.accept()) {
                        // says nothing until the client gives up
                        silent.getInputStream().read();
                    }
                } catch (IOException e) {
                    // the client closed its end
                }
            });
            talker.start();
            InetSocketAddress at = new InetSocketAddress("127.0.0.1", s.getLocalPort());
            assertThatThrownBy(() -> NbdClient.connect(at, "md0", TIMEOUT))
                    .isInstanceOfSatisfying(NbdClientException.class, e -> {
                        assertThat(e.code()).isEqualTo(NbdClientException.Code.REFUSED);
                        assertThat(e.getMessage()).contains("not an NBD server");
                    });
            assertThatThrownBy(() -> NbdClient.connect(at, "md0", Duration.ofMillis(300)))
                    .isInstanceOfSatisfying(NbdClientException.class, e -> {
                        assertThat(e.code()).isEqualTo(NbdClientException.Code.REFUSED);
                        assertThat(e.getMessage()).contains("no answer in time");
                    });
            talker.join(TIMEOUT.toMillis());
        }
    }
}
