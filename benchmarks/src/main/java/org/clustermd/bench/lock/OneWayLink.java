package org.clustermd.bench.lock;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A TCP forwarder on a free loopback port to one target port whose client-to-server direction can
 * be held ({@link #cutClientToServer()}) while the server's bytes keep reaching the client: the
 * one-way partition of the lease figure. {@link #restore()} releases what was held.
 *
 * <p>Thread-safe; two daemon threads per connection, all ended by {@link #close()}.
 */
final class OneWayLink implements AutoCloseable {
    private final InetSocketAddress target;
    private final ServerSocket listener;
    private final Set<Socket> sockets = ConcurrentHashMap.newKeySet();
    private boolean cut; // guarded by this
    private boolean closed; // guarded by this

    OneWayLink(int targetPort) throws IOException {
        this.target = new InetSocketAddress(InetAddress.getLoopbackAddress(), targetPort);
        this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
        daemon("one-way-accept", this::acceptLoop);
    }

    String connectString() {
        return listener.getInetAddress().getHostAddress() + ":" + listener.getLocalPort();
    }

    synchronized void cutClientToServer() {
        cut = true;
    }

    synchronized void restore() {
        cut = false;
        notifyAll();
    }

    /** Blocks while the client-to-server direction is cut; false once closed. */
    private synchronized boolean awaitUp() throws InterruptedException {
        while (cut && !closed) {
            wait();
        }
        return !closed;
    }

    private void acceptLoop() {
        while (true) {
            Socket client;
            try {
                client = listener.accept();
            } catch (IOException e) {
                return;
            }
            daemon("one-way-conn", () -> connect(client));
        }
    }

    private void connect(Socket client) {
        sockets.add(client);
        Socket server = new Socket();
        sockets.add(server);
        try {
            if (!awaitUp()) {
                return;
            }
            server.connect(target, 10_000);
        } catch (IOException | InterruptedException e) {
            closeQuietly(client);
            closeQuietly(server);
            return;
        }
        daemon("one-way-down", () -> pump(server, client, false));
        pump(client, server, true);
    }

    private void pump(Socket from, Socket to, boolean up) {
        byte[] buffer = new byte[64 * 1024];
        try (InputStream in = from.getInputStream();
                OutputStream out = to.getOutputStream()) {
            for (int n = in.read(buffer); n >= 0; n = in.read(buffer)) {
                // what the client sent during a cut waits here, and behind it everything after
                if (up && !awaitUp()) {
                    break;
                }
                out.write(buffer, 0, n);
                out.flush();
            }
        } catch (IOException | InterruptedException e) {
            // closed by the peer or by close()
        }
        closeQuietly(from);
        closeQuietly(to);
    }

    @Override
    public void close() {
        synchronized (this) {
            closed = true;
            notifyAll();
        }
        closeQuietly(listener);
        sockets.forEach(OneWayLink::closeQuietly);
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // closing anyway
        }
    }

    private static void daemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
    }
}
