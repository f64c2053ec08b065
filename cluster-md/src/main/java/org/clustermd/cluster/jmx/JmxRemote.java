package org.clustermd.cluster.jmx;

import java.io.IOException;
import java.io.InputStream;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.rmi.NoSuchObjectException;
import java.rmi.registry.LocateRegistry;
import java.rmi.registry.Registry;
import java.rmi.server.RMIClientSocketFactory;
import java.rmi.server.UnicastRemoteObject;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import javax.management.MBeanServer;
import javax.management.remote.JMXConnectorServer;
import javax.management.remote.JMXConnectorServerFactory;
import javax.management.remote.JMXServiceURL;
import javax.management.remote.MBeanServerForwarder;
import javax.management.remote.rmi.RMIConnectorServer;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import javax.rmi.ssl.SslRMIClientSocketFactory;

/**
 * The remote JMX connector of a node ({@code node --jmx-port P}): an RMI registry and the RMI
 * connector server on the one port, with the JDK's password and access files
 * ({@code jmx.remote.x.password.file}, {@code jmx.remote.x.access.file}) and TLS, or without
 * them on 127.0.0.1 only ({@link JmxSettings#insecureLocalhost()}). Whatever the settings, a
 * forwarder in front of the MBean server refuses every MBean creation, registration and
 * unregistration by a client, for every role.
 *
 * <p>Thread-safe; {@link #close()} is idempotent.
 */
public final class JmxRemote implements AutoCloseable {
    /**
     * The MBeanServer methods no remote client may call (the connector itself needs the class
     * loader lookups, so those pass).
     */
    private static final Set<String> REFUSED =
            Set.of("createMBean", "registerMBean", "unregisterMBean", "instantiate", "deserialize");

    private final Registry registry;
    private final JMXConnectorServer server;
    private final JMXServiceURL url;

    private JmxRemote(Registry registry, JMXConnectorServer server, JMXServiceURL url) {
        this.registry = registry;
        this.server = server;
        this.url = url;
    }

    /**
     * Opens the connector on {@code port} serving {@code mbs}.
     *
     * @throws IllegalArgumentException for settings that would open JMX unauthenticated or
     *     without TLS (see {@link JmxSettings#check()})
     * @throws IOException when the port cannot be bound or a key store cannot be read
     */
    public static JmxRemote start(int port, JmxSettings settings, MBeanServer mbs) throws IOException {
        if (port <= 0 || port > 65535) throw new IllegalArgumentException("the JMX port must be 1..65535: " + port);
        settings.check();
        InetAddress bind;
        String host;
        SSLContext tls = null;
        Map<String, Object> env = new HashMap<>();
        // only a user name and password may come from a client (no arbitrary classes deserialized)
        env.put("jmx.remote.rmi.server.credential.types", new String[] {String[].class.getName(), String.class.getName()
        });
        RMIClientSocketFactory csf = null;
        if (settings.isInsecureLocalhost()) {
            bind = InetAddress.getLoopbackAddress();
            host = "127.0.0.1";
        } else {
            String h = settings.get(JmxSettings.HOST);
            bind = h == null ? null : InetAddress.getByName(h);
            host = h == null ? InetAddress.getLocalHost().getHostName() : h;
            env.put("jmx.remote.x.password.file", settings.get(JmxSettings.PASSWORD_FILE));
            env.put("jmx.remote.x.access.file", settings.get(JmxSettings.ACCESS_FILE));
            tls = tlsContext(settings);
            csf = new SslRMIClientSocketFactory();
            env.put(RMIConnectorServer.RMI_CLIENT_SOCKET_FACTORY_ATTRIBUTE, csf);
        }
        // the stubs name this host; a loopback-only server must not hand out another address
        if (settings.isInsecureLocalhost() || settings.get(JmxSettings.HOST) != null)
            System.setProperty("java.rmi.server.hostname", host);
        BoundSocketFactory ssf =
                new BoundSocketFactory(bind, tls, settings.flag(JmxSettings.SSL_NEED_CLIENT_AUTH, false));
        env.put(RMIConnectorServer.RMI_SERVER_SOCKET_FACTORY_ATTRIBUTE, ssf);
        // with TLS the connector's sockets differ from the registry's, so it needs a port of its own (the JDK's
        // rmi.port)
        int rmiPort = tls == null
                ? port
                : Integer.parseInt(
                        settings.get(JmxSettings.RMI_PORT) == null
                                ? "0"
                                : settings.get(JmxSettings.RMI_PORT).trim());
        Registry registry = LocateRegistry.createRegistry(port, null, new BoundSocketFactory(bind, null, false));
        try {
            JMXServiceURL url = new JMXServiceURL(
                    "service:jmx:rmi://" + host + ":" + rmiPort + "/jndi/rmi://" + host + ":" + port + "/jmxrmi");
            JMXConnectorServer cs = JMXConnectorServerFactory.newJMXConnectorServer(url, env, mbs);
            cs.setMBeanServerForwarder(noCreation());
            cs.start();
            return new JmxRemote(registry, cs, clientUrl(host, port));
        } catch (IOException | RuntimeException e) {
            unexport(registry);
            throw e;
        }
    }

    /** The URL a client connects to: {@code service:jmx:rmi:///jndi/rmi://HOST:PORT/jmxrmi}. */
    public static JMXServiceURL clientUrl(String host, int port) throws IOException {
        return new JMXServiceURL("service:jmx:rmi:///jndi/rmi://" + host + ":" + port + "/jmxrmi");
    }

    public JMXServiceURL url() {
        return url;
    }

    private static SSLContext tlsContext(JmxSettings s) throws IOException {
        try {
            KeyStore ks = KeyStore.getInstance(
                    s.get("javax.net.ssl.keyStoreType") != null
                            ? s.get("javax.net.ssl.keyStoreType")
                            : KeyStore.getDefaultType());
            char[] pw = s.get("javax.net.ssl.keyStorePassword") == null
                    ? null
                    : s.get("javax.net.ssl.keyStorePassword").toCharArray();
            try (InputStream in = Files.newInputStream(Path.of(s.get("javax.net.ssl.keyStore")))) {
                ks.load(in, pw);
            }
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, pw);
            TrustManagerFactory tmf = null;
            if (s.get("javax.net.ssl.trustStore") != null) {
                KeyStore ts = KeyStore.getInstance(KeyStore.getDefaultType());
                char[] tpw = s.get("javax.net.ssl.trustStorePassword") == null
                        ? null
                        : s.get("javax.net.ssl.trustStorePassword").toCharArray();
                try (InputStream in = Files.newInputStream(Path.of(s.get("javax.net.ssl.trustStore")))) {
                    ts.load(in, tpw);
                }
                tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
                tmf.init(ts);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), tmf == null ? null : tmf.getTrustManagers(), null);
            return ctx;
        } catch (GeneralSecurityException e) {
            throw new IOException("the JMX key store cannot be used: " + e.getMessage(), e);
        }
    }

    /** A forwarder refusing {@link #REFUSED} with a SecurityException, passing everything else on. */
    private static MBeanServerForwarder noCreation() {
        MBeanServer[] next = new MBeanServer[1];
        InvocationHandler h = (proxy, method, args) -> {
            String m = method.getName();
            if (m.equals("getMBeanServer") && method.getDeclaringClass() == MBeanServerForwarder.class) return next[0];
            if (m.equals("setMBeanServer") && method.getDeclaringClass() == MBeanServerForwarder.class) {
                next[0] = (MBeanServer) args[0];
                return null;
            }
            if (REFUSED.contains(m))
                throw new SecurityException(m + " is refused: no JMX client may create or remove MBeans");
            try {
                return method.invoke(next[0], args);
            } catch (InvocationTargetException e) {
                throw e.getCause();
            }
        };
        return (MBeanServerForwarder) Proxy.newProxyInstance(
                MBeanServerForwarder.class.getClassLoader(), new Class<?>[] {MBeanServerForwarder.class}, h);
    }

    @Override
    public synchronized void close() {
        try {
            server.stop();
        } catch (IOException e) {
            // stopping a connector closes its sockets even when a client's close fails
        }
        unexport(registry);
    }

    private static void unexport(Registry registry) {
        try {
            UnicastRemoteObject.unexportObject(registry, true);
        } catch (NoSuchObjectException e) {
            // already gone
        }
    }
}
