package org.clustermd.cluster.jmx;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Properties;

/**
 * Remote JMX settings in the JDK's {@code management.properties} conventions (the keys of
 * {@code com.sun.management.jmxremote.*}; TLS key material as {@code javax.net.ssl.*}, in the
 * file itself or in the file named by {@code com.sun.management.jmxremote.ssl.config.file}).
 * Unlike the JDK, nothing insecure is a default: authentication and TLS are on unless switched
 * off, and switching either off is refused ({@link #check()}); only
 * {@link #insecureLocalhost()} opens without them, on 127.0.0.1. An access file granting
 * {@code create} is refused too: no role may create MBeans.
 *
 * <p>Immutable; thread-safe.
 */
public final class JmxSettings {
    static final String PREFIX = "com.sun.management.jmxremote.";
    public static final String AUTHENTICATE = PREFIX + "authenticate";
    public static final String PASSWORD_FILE = PREFIX + "password.file";
    public static final String ACCESS_FILE = PREFIX + "access.file";
    public static final String SSL = PREFIX + "ssl";
    public static final String SSL_NEED_CLIENT_AUTH = PREFIX + "ssl.need.client.auth";
    public static final String SSL_CONFIG_FILE = PREFIX + "ssl.config.file";
    public static final String REGISTRY_SSL = PREFIX + "registry.ssl";
    public static final String HOST = PREFIX + "host";
    public static final String RMI_PORT = PREFIX + "rmi.port";

    private final boolean insecureLocalhost;
    private final Properties props;

    private JmxSettings(boolean insecureLocalhost, Properties props) {
        this.insecureLocalhost = insecureLocalhost;
        this.props = props;
    }

    /** No authentication, no TLS, bound to 127.0.0.1 only ({@code --jmx-insecure-localhost}). */
    public static JmxSettings insecureLocalhost() {
        return new JmxSettings(true, new Properties());
    }

    /** Reads a management.properties-style file (and the ssl.config.file it names). */
    public static JmxSettings load(Path file) throws IOException {
        Properties p = read(file);
        String sslConfig = p.getProperty(SSL_CONFIG_FILE);
        if (sslConfig != null) {
            Properties ssl = read(file.resolveSibling(sslConfig));
            for (String k : ssl.stringPropertyNames()) p.putIfAbsent(k, ssl.getProperty(k));
        }
        return of(p);
    }

    public static JmxSettings of(Properties p) {
        Properties copy = new Properties();
        copy.putAll(p);
        return new JmxSettings(false, copy);
    }

    private static Properties read(Path file) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(file)) {
            p.load(in);
        }
        return p;
    }

    public boolean isInsecureLocalhost() {
        return insecureLocalhost;
    }

    String get(String key) {
        return props.getProperty(key);
    }

    boolean flag(String key, boolean dflt) {
        String v = props.getProperty(key);
        if (v == null) return dflt;
        return switch (v.trim().toLowerCase(Locale.ROOT)) {
            case "true" -> true;
            case "false" -> false;
            default -> throw new IllegalArgumentException(key + " must be true or false: '" + v + "'");
        };
    }

    /**
     * Refuses what would open JMX to anyone: authentication or TLS switched off, no password
     * file, an access file that grants {@code create}, or a setting this server does not
     * implement (never silently ignored).
     *
     * @throws IllegalArgumentException naming the setting
     */
    void check() throws IOException {
        if (insecureLocalhost) return;
        if (!flag(AUTHENTICATE, true)) {
            throw new IllegalArgumentException(
                    AUTHENTICATE + "=false is refused: without authentication JMX opens only with "
                            + "--jmx-insecure-localhost (127.0.0.1)");
        }
        if (!flag(SSL, true)) {
            throw new IllegalArgumentException(
                    SSL + "=false is refused: remote JMX needs TLS (or --jmx-insecure-localhost)");
        }
        if (flag(REGISTRY_SSL, false)) {
            throw new IllegalArgumentException(
                    REGISTRY_SSL + "=true is not supported: the RMI registry holds only the stub, "
                            + "the connection itself uses TLS");
        }
        if (props.getProperty("javax.net.ssl.keyStore") == null) {
            throw new IllegalArgumentException(
                    "TLS needs javax.net.ssl.keyStore (in the file or in " + SSL_CONFIG_FILE + ")");
        }
        String pw = props.getProperty(PASSWORD_FILE);
        if (pw == null)
            throw new IllegalArgumentException(PASSWORD_FILE + " is required: remote JMX needs authentication");
        if (!Files.isReadable(Path.of(pw)))
            throw new IllegalArgumentException(PASSWORD_FILE + " cannot be read: " + pw);
        String access = props.getProperty(ACCESS_FILE);
        if (access == null)
            throw new IllegalArgumentException(ACCESS_FILE + " is required (roles: readonly or readwrite)");
        Path a = Path.of(access);
        if (!Files.isReadable(a)) throw new IllegalArgumentException(ACCESS_FILE + " cannot be read: " + access);
        for (String line : Files.readAllLines(a)) {
            String l = line.trim();
            if (l.startsWith("#")) continue;
            if (l.matches(".*\\bcreate\\b.*")) {
                throw new IllegalArgumentException(
                        ACCESS_FILE + " grants 'create' (" + l + "): no role may create MBeans");
            }
        }
    }
}
