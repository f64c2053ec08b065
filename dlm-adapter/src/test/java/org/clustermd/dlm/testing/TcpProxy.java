package org.clustermd.dlm.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import org.clustermd.testkit.Timing;

/**
 * A TCP forwarder between a client under test and its server (usually ZooKeeper) that the
 * test controls, to make the client see network faults:
 * <ul>
 *   <li>{@link #cut()}: a partition. Nothing is forwarded in either direction and nothing is
 *       closed; bytes already read are held, new connections are accepted and left silent.
 *       The client notices only by its own timeout, as behind a dead switch.</li>
 *   <li>{@link #cutClientToServer()}: a one-way partition. Only what the client sends is held;
 *       the server's bytes (replies, watch notifications) still reach the client, so a client
 *       that judges the link by what it receives sees nothing wrong.</li>
 *   <li>{@link #cutServerToClient()}: the other way. Only what the server sends is held: the
 *       client's requests reach the server and take effect, their replies never come.</li>
 *   <li>{@link #cutOnlyClientToServer()}: the one-way cut turned around, at once.</li>
 *   <li>{@link #restore()}: the partition heals; held bytes and held connections go on.</li>
 *   <li>{@link #drop()}: every open connection is closed at once (both sides see the
 *       socket close); new connections are forwarded as usual (or held, if cut).</li>
 * </ul>
 * It listens on a free port of 127.0.0.1 ({@link #port()}, {@link #connectString()}).
 *
 * <pre>{@code
 * try (TcpProxy proxy = TcpProxy.start(zk.clientPort())) {
 *     client = connect(proxy.connectString());
 *     proxy.cut();          // the client will see Disconnected after its read timeout
 *     proxy.restore();      // and reconnect with the same session if it has not expired
 * }
 * }</pre>
 *
 * <p>Thread-safe: the controls may be called from any thread. Forwarding uses two daemon
 * threads per connection; {@link #close()} ends them all.
 */
public final class TcpProxy implements AutoCloseable {
    private static final int BUFFER = 64 * 1024;

    /** Whether bytes flow; the proxy's lock guards it. */
    private enum Link {
        FORWARDING,
        CUT,
        CLOSED;

        Link to(Link target) {
            if (this == CLOSED && target != CLOSED) {
                throw new IllegalStateException("proxy is closed");
            }
            return target;
        }
    }

    private final InetSocketAddress target;
    private final ServerSocket listener;
    private final Set<Connection> connections = ConcurrentHashMap.newKeySet();
    private final AtomicInteger accepted = new AtomicInteger();
    private final Thread acceptor;
    private Link link = Link.FORWARDING;
    /** Holds the client-to-server direction only (guarded by this). */
    private boolean upstreamCut;
    /** Holds the server-to-client direction only (guarded by this). */
    private boolean downstreamCut;

    private TcpProxy(InetSocketAddress target) throws IOException {
        this.target = Objects.requireNonNull(target, "target");
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        this.acceptor = new Thread(this::acceptLoop, "tcp-proxy-" + listener.getLocalPort() + "-accept");
        acceptor.setDaemon(true);
        acceptor.start();
    }

    /** A proxy to {@code target}, listening on a free loopback port. */
    public static TcpProxy start(InetSocketAddress target) throws IOException {
        return new TcpProxy(target);
    }

    /** A proxy to port {@code targetPort} of 127.0.0.1. */
    public static TcpProxy start(int targetPort) throws IOException {
        return new TcpProxy(new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort));
    }

    /** The port clients connect to. */
    public int port() {
        return listener.getLocalPort();
    }

    /** {@code 127.0.0.1:port}, for a ZooKeeper connect string. */
    public String connectString() {
        return listener.getInetAddress().getHostAddress() + ":" + port();
    }

    public InetSocketAddress target() {
        return target;
    }

    /** Connections open now (accepted and not yet closed). */
    public int openConnections() {
        return connections.size();
    }

    /** Connections accepted since the proxy started. */
    public int acceptedConnections() {
        return accepted.get();
    }

    /** Whether the link is cut (both ways; see also {@link #isClientToServerCut()}). */
    public synchronized boolean isCut() {
        return link == Link.CUT;
    }

    /** Whether what the client sends is held (by either kind of cut). */
    public synchronized boolean isClientToServerCut() {
        return link == Link.CUT || upstreamCut;
    }

    /**
     * Holds everything the client sends from now on, silently, while the server's bytes keep
     * flowing to the client; {@link #restore()} releases it.
     */
    public synchronized void cutClientToServer() {
        link = link.to(Link.FORWARDING);
        upstreamCut = true;
    }

    /**
     * Holds everything the server sends from now on (replies, notifications, pings' answers),
     * silently, while what the client sends still reaches the server; {@link #restore()}
     * releases it, {@link #drop()} discards it with the connection.
     */
    public synchronized void cutServerToClient() {
        link = link.to(Link.FORWARDING);
        downstreamCut = true;
    }

    /**
     * Turns a one-way cut around: releases what the server sent (held bytes included) and holds
     * what the client sends from now on, in one step, so that no byte of the client's slips
     * through in between; {@link #restore()} releases it.
     */
    public synchronized void cutOnlyClientToServer() {
        link = link.to(Link.FORWARDING);
        upstreamCut = true;
        downstreamCut = false;
        notifyAll();
    }

    /** Stops forwarding in both directions and keeps every socket open, silently. */
    public synchronized void cut() {
        link = link.to(Link.CUT);
    }

    /** Resumes forwarding both ways, held bytes and held connections included. */
    public synchronized void restore() {
        link = link.to(Link.FORWARDING);
        upstreamCut = false;
        downstreamCut = false;
        notifyAll();
    }

    /** Closes every open connection, both sides; the listener stays. */
    public void drop() {
        for (Connection c : List.copyOf(connections)) {
            c.close();
        }
        synchronized (this) {
            notifyAll();
        }
    }

    /** Stops listening, closes every connection and ends every proxy thread. */
    @Override
    public void close() {
        synchronized (this) {
            link = link.to(Link.CLOSED);
            notifyAll();
        }
        try {
            listener.close();
        } catch (IOException e) {
            // closing anyway
        }
        drop();
        try {
            acceptor.join(Timing.millis(5_000));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Blocks while the link is cut; returns false when the connection or the proxy was closed
     * meanwhile.
     */
    private synchronized boolean awaitForwarding(Connection c, boolean clientToServer) throws InterruptedException {
        while ((link == Link.CUT || (clientToServer ? upstreamCut : downstreamCut)) && !c.closed) {
            wait();
        }
        return link == Link.FORWARDING && !c.closed;
    }

    private void acceptLoop() {
        while (!listener.isClosed()) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return;
            }
            accepted.incrementAndGet();
            Connection c = new Connection(client, accepted.get());
            connections.add(c);
            c.start();
        }
    }

    /** One client connection and its upstream socket. */
    private final class Connection {
        private final Socket client;
        private final int number;
        private volatile Socket upstream;
        private volatile boolean closed;

        Connection(Socket client, int number) {
            this.client = client;
            this.number = number;
        }

        void start() {
            Thread t = new Thread(this::connectAndForward, "tcp-proxy-" + port() + "-conn" + number + "-up");
            t.setDaemon(true);
            t.start();
        }

        /** Connects upstream once the link is up (a connection made during a cut is held), then pumps both ways. */
        private void connectAndForward() {
            try {
                if (!awaitForwarding(this, true)) {
                    close();
                    return;
                }
                Socket up = new Socket();
                upstream = up;
                up.connect(target, 10_000);
                if (closed) {
                    close();
                    return;
                }
                Thread down =
                        new Thread(() -> pump(up, client, false), "tcp-proxy-" + port() + "-conn" + number + "-down");
                down.setDaemon(true);
                down.start();
                pump(client, up, true);
            } catch (IOException e) {
                close();
            } catch (InterruptedException e) {
                close();
            }
        }

        private void pump(Socket from, Socket to, boolean clientToServer) {
            byte[] buffer = new byte[BUFFER];
            try {
                InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream();
                while (true) {
                    if (!awaitForwarding(this, clientToServer)) {
                        break;
                    }
                    int n = in.read(buffer);
                    if (n < 0) {
                        break;
                    }
                    // bytes read just before a cut are held until the link is restored
                    if (!awaitForwarding(this, clientToServer)) {
                        break;
                    }
                    out.write(buffer, 0, n);
                    out.flush();
                }
            } catch (SocketException e) {
                // closed by drop(), close() or the peer
            } catch (IOException e) {
                // the connection failed; both sides are closed below
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            close();
        }

        void close() {
            closed = true;
            connections.remove(this);
            closeQuietly(client);
            Socket up = upstream;
            if (up != null) {
                closeQuietly(up);
            }
            synchronized (TcpProxy.this) {
                TcpProxy.this.notifyAll();
            }
        }

        private void closeQuietly(Socket s) {
            try {
                s.close();
            } catch (IOException e) {
                // already closed
            }
        }
    }

    @Override
    public String toString() {
        return "TcpProxy[" + connectString() + " -> " + target + ", " + link
                + (upstreamCut ? " (client to server cut)" : "")
                + (downstreamCut ? " (server to client cut)" : "") + "]";
    }
}
