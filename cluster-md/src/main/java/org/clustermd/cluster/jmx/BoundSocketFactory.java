package org.clustermd.cluster.jmx;

import java.io.IOException;
import java.io.Serializable;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.rmi.server.RMIServerSocketFactory;
import java.util.Objects;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;

/**
 * The server sockets of the JMX connector and its RMI registry, bound to one address (the JDK's
 * own factories bind every address), with TLS when given a context. Equal factories share one
 * port, so the registry and the connector listen on the same {@code --jmx-port}.
 *
 * <p>Immutable; thread-safe.
 */
final class BoundSocketFactory implements RMIServerSocketFactory, Serializable {
    private static final long serialVersionUID = 1L;
    private final InetAddress bind;
    private final transient SSLContext tls;
    private final boolean needClientAuth;

    BoundSocketFactory(InetAddress bind, SSLContext tls, boolean needClientAuth) {
        this.bind = bind;
        this.tls = tls;
        this.needClientAuth = needClientAuth;
    }

    @Override
    public ServerSocket createServerSocket(int port) throws IOException {
        if (tls == null) return new ServerSocket(port, 50, bind);
        SSLServerSocket s = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket(port, 50, bind);
        s.setNeedClientAuth(needClientAuth);
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof BoundSocketFactory f
                && Objects.equals(bind, f.bind)
                && tls == f.tls
                && needClientAuth == f.needClientAuth;
    }

    @Override
    public int hashCode() {
        return Objects.hash(bind, needClientAuth);
    }
}
