package org.clustermd.dlm.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicInteger;
import org.clustermd.testkit.Timing;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class TcpProxyTest {
    private static final int QUIET_MS = 300;
    private final Timing timing = new Timing();
    private EchoServer echo;
    private TcpProxy proxy;

    @BeforeEach
    void setUp() throws IOException {
        echo = new EchoServer();
        proxy = TcpProxy.start(echo.port());
    }

    @AfterEach
    void tearDown() throws IOException {
        proxy.close();
        echo.close();
    }

    @Test
    void forwardsBytesBothWays() throws Exception {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "hello")).isEqualTo("hello");
            assertThat(roundTrip(s, "again")).isEqualTo("again");
        }
        assertThat(proxy.connectString()).startsWith("127.0.0.1:");
    }

    @Test
    void cutKeepsTheConnectionOpenButSilentAndRestoreDeliversWhatWasHeld() throws Exception {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "before")).isEqualTo("before");
            proxy.cut();
            send(s, "during");
            s.setSoTimeout(QUIET_MS);
            // silent: neither an echo nor a close reaches the client
            assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
            assertThat(proxy.openConnections()).isEqualTo(1);
            proxy.restore();
            s.setSoTimeout((int) timing.milliseconds());
            assertThat(read(s, "during".length())).isEqualTo("during");
            assertThat(roundTrip(s, "after")).isEqualTo("after");
        }
    }

    /** The server pushes without being asked (as ZooKeeper's watch notifications do). */
    @Test
    void aOneWayCutHoldsWhatTheClientSendsWhileTheServersBytesStillArrive() throws Exception {
        try (ServerSocket target = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                TcpProxy oneWay = TcpProxy.start(target.getLocalPort());
                Socket client = new Socket(InetAddress.getLoopbackAddress(), oneWay.port())) {
            target.setSoTimeout((int) timing.milliseconds());
            try (Socket server = target.accept()) {
                server.setSoTimeout((int) timing.milliseconds());
                client.setSoTimeout((int) timing.milliseconds());
                send(client, "up");
                assertThat(read(server, 2)).isEqualTo("up");

                oneWay.cutClientToServer();
                assertThat(oneWay.isClientToServerCut()).isTrue();
                assertThat(oneWay.isCut()).isFalse();
                send(client, "held");
                send(server, "push");
                assertThat(read(client, 4)).as("server to client still flows").isEqualTo("push");
                server.setSoTimeout(QUIET_MS);
                assertThatThrownBy(() -> server.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);

                oneWay.restore();
                server.setSoTimeout((int) timing.milliseconds());
                assertThat(read(server, 4)).isEqualTo("held");
                send(server, "back");
                assertThat(read(client, 4)).isEqualTo("back");
            }
        }
    }

    /** A request that reaches its server while its reply is lost with the connection. */
    @Test
    void aCutTheOtherWayDeliversWhatTheClientSendsAndADropDiscardsTheHeldReply() throws Exception {
        try (ServerSocket target = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
                TcpProxy oneWay = TcpProxy.start(target.getLocalPort());
                Socket client = new Socket(InetAddress.getLoopbackAddress(), oneWay.port())) {
            target.setSoTimeout((int) timing.milliseconds());
            try (Socket server = target.accept()) {
                server.setSoTimeout((int) timing.milliseconds());
                client.setSoTimeout((int) timing.milliseconds());
                send(client, "up");
                assertThat(read(server, 2)).isEqualTo("up");

                oneWay.cutServerToClient();
                assertThat(oneWay.isCut()).isFalse();
                assertThat(oneWay.isClientToServerCut()).isFalse();
                send(server, "held");
                send(client, "req");
                assertThat(read(server, 3)).as("client to server still flows").isEqualTo("req");
                client.setSoTimeout(QUIET_MS);
                assertThatThrownBy(() -> client.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);

                oneWay.drop();
                client.setSoTimeout((int) timing.milliseconds());
                assertThat(readOrClosed(client))
                        .as("the held reply went with the connection")
                        .isEqualTo(-1);
            }
        }
    }

    @Test
    void aConnectionMadeDuringACutReachesTheTargetOnlyAfterRestore() throws Exception {
        proxy.cut();
        try (Socket s = connect()) {
            send(s, "held");
            s.setSoTimeout(QUIET_MS);
            assertThatThrownBy(() -> s.getInputStream().read()).isInstanceOf(SocketTimeoutException.class);
            assertThat(echo.accepted()).isZero();
            proxy.restore();
            s.setSoTimeout((int) timing.milliseconds());
            assertThat(read(s, "held".length())).isEqualTo("held");
            assertThat(echo.accepted()).isEqualTo(1);
        }
    }

    @Test
    void dropClosesOpenConnectionsAndLaterOnesWork() throws Exception {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "x")).isEqualTo("x");
            proxy.drop();
            s.setSoTimeout((int) timing.milliseconds());
            assertThat(readOrClosed(s)).isEqualTo(-1);
        }
        timing.waitFor("the dropped connection is gone", () -> proxy.openConnections() == 0);
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "y")).isEqualTo("y");
        }
        assertThat(proxy.acceptedConnections()).isEqualTo(2);
    }

    @Test
    void dropDuringACutClosesTheHeldConnection() throws Exception {
        try (Socket s = connect()) {
            assertThat(roundTrip(s, "x")).isEqualTo("x");
            proxy.cut();
            proxy.drop();
            s.setSoTimeout((int) timing.milliseconds());
            assertThat(readOrClosed(s)).isEqualTo(-1);
        }
    }

    @Test
    void closeStopsListeningAndEndsItsThreads() throws Exception {
        int port = proxy.port();
        Socket open = connect();
        assertThat(roundTrip(open, "x")).isEqualTo("x");
        proxy.close();
        open.setSoTimeout((int) timing.milliseconds());
        assertThat(readOrClosed(open)).isEqualTo(-1);
        open.close();
        assertThatThrownBy(() -> new Socket(InetAddress.getLoopbackAddress(), port).close())
                .isInstanceOf(ConnectException.class);
        timing.waitFor(
                "no proxy thread is left",
                () -> Thread.getAllStackTraces().keySet().stream()
                        .noneMatch(t -> t.getName().startsWith("tcp-proxy-" + port + "-")));
    }

    private Socket connect() throws IOException {
        Socket s = new Socket(InetAddress.getLoopbackAddress(), proxy.port());
        s.setSoTimeout((int) timing.milliseconds());
        return s;
    }

    private static void send(Socket s, String text) throws IOException {
        OutputStream out = s.getOutputStream();
        out.write(text.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static String read(Socket s, int length) throws IOException {
        return new String(s.getInputStream().readNBytes(length), StandardCharsets.UTF_8);
    }

    private static String roundTrip(Socket s, String text) throws IOException {
        send(s, text);
        return read(s, text.length());
    }

    /** -1 when the peer closed (EOF or reset), else the byte read. */
    private static int readOrClosed(Socket s) throws IOException {
        try {
            return s.getInputStream().read();
        } catch (java.net.SocketException e) {
            return -1;
        }
    }

    /** Echoes every byte back; counts accepted connections. */
    private static final class EchoServer implements AutoCloseable {
        private final ServerSocket server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        private final AtomicInteger accepted = new AtomicInteger();

        EchoServer() throws IOException {
            Thread t = new Thread(this::serve, "echo-" + server.getLocalPort());
            t.setDaemon(true);
            t.start();
        }

        int port() {
            return server.getLocalPort();
        }

        int accepted() {
            return accepted.get();
        }

        private void serve() {
            while (!server.isClosed()) {
                try {
                    Socket s = server.accept();
                    accepted.incrementAndGet();
                    Thread t = new Thread(() -> echo(s), "echo-conn");
                    t.setDaemon(true);
                    t.start();
                } catch (IOException e) {
                    return;
                }
            }
        }

        private static void echo(Socket s) {
            try (s;
                    InputStream in = s.getInputStream();
                    OutputStream out = s.getOutputStream()) {
                byte[] b = new byte[4096];
                for (int n = in.read(b); n >= 0; n = in.read(b)) {
                    out.write(b, 0, n);
                    out.flush();
                }
            } catch (IOException e) {
                // the proxy closed the connection
            }
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }
}
