package org.clustermd.dlm.zk;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Properties;
import java.util.TreeMap;
import org.apache.zookeeper.client.ZKClientConfig;

/**
 * A ZooKeeper client's TLS settings, in ZooKeeper's own property names so that an operator's
 * existing client configuration file works unchanged: {@code zookeeper.client.secure=true},
 * {@code zookeeper.ssl.keyStore.location}/{@code .password}/{@code .type},
 * {@code zookeeper.ssl.trustStore.location}/{@code .password}/{@code .type},
 * {@code zookeeper.ssl.hostnameVerification}, and any other {@code zookeeper.*} client key.
 * TLS needs ZooKeeper's Netty client socket, which is chosen unless the file names it.
 *
 * <p>Checked when made, so a typo fails before any connection: every key must be a
 * {@code zookeeper.*} key, {@code zookeeper.client.secure} may not be false, and a key or
 * trust store named must be a readable file.
 *
 * <p>Immutable and thread-safe; {@link #toString()} shows no password.
 */
public final class ZkClientTls {
    public static final String SECURE = ZKClientConfig.SECURE_CLIENT;
    public static final String CNXN_SOCKET = ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET;
    public static final String KEY_STORE = "zookeeper.ssl.keyStore.location";
    public static final String KEY_STORE_PASSWORD = "zookeeper.ssl.keyStore.password";
    public static final String TRUST_STORE = "zookeeper.ssl.trustStore.location";
    public static final String TRUST_STORE_PASSWORD = "zookeeper.ssl.trustStore.password";
    private static final String NETTY = "org.apache.zookeeper.ClientCnxnSocketNetty";

    private final Map<String, String> properties;

    private ZkClientTls(Map<String, String> properties) {
        this.properties = Collections.unmodifiableMap(properties);
    }

    /**
     * The settings of a ZooKeeper client properties file.
     *
     * @throws IOException when the file cannot be read
     * @throws IllegalArgumentException naming the file and key, for settings that cannot be TLS
     */
    public static ZkClientTls load(Path file) throws IOException {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            p.load(r);
        }
        Map<String, String> m = new TreeMap<>();
        for (String k : p.stringPropertyNames()) m.put(k, p.getProperty(k).trim());
        try {
            return of(m);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(file + ": " + e.getMessage(), e);
        }
    }

    /** Key and trust stores (PKCS12 or JKS, as ZooKeeper tells by the file name or the .type keys). */
    public static ZkClientTls keyAndTrustStores(
            String keyStore, String keyStorePassword, String trustStore, String trustStorePassword) {
        Map<String, String> m = new TreeMap<>();
        m.put(KEY_STORE, Objects.requireNonNull(keyStore, "keyStore"));
        m.put(KEY_STORE_PASSWORD, Objects.requireNonNull(keyStorePassword, "keyStorePassword"));
        m.put(TRUST_STORE, Objects.requireNonNull(trustStore, "trustStore"));
        m.put(TRUST_STORE_PASSWORD, Objects.requireNonNull(trustStorePassword, "trustStorePassword"));
        return of(m);
    }

    /** Checks {@code settings} (ZooKeeper client keys) and completes them with TLS on and the Netty socket. */
    public static ZkClientTls of(Map<String, String> settings) {
        Map<String, String> m = new TreeMap<>(settings);
        for (Map.Entry<String, String> e : m.entrySet()) {
            if (!e.getKey().startsWith("zookeeper.")) {
                throw new IllegalArgumentException(
                        "'" + e.getKey() + "' is not a ZooKeeper client setting (they start with zookeeper.)");
            }
        }
        String secure = m.putIfAbsent(SECURE, "true");
        if (secure != null && !secure.equalsIgnoreCase("true")) {
            throw new IllegalArgumentException(SECURE + "=" + secure + ": these are TLS settings, so it must be true");
        }
        String socket = m.putIfAbsent(CNXN_SOCKET, NETTY);
        if (socket != null && !socket.equals(NETTY)) {
            throw new IllegalArgumentException(CNXN_SOCKET + "=" + socket + ": ZooKeeper's TLS needs " + NETTY);
        }
        for (String store : new String[] {KEY_STORE, TRUST_STORE}) {
            String path = m.get(store);
            if (path != null && !Files.isReadable(Path.of(path))) {
                throw new IllegalArgumentException(store + "=" + path + ": no such readable file");
            }
        }
        return new ZkClientTls(m);
    }

    /** A fresh client configuration with these settings (over ZooKeeper's system-property defaults). */
    public ZKClientConfig clientConfig() {
        ZKClientConfig c = new ZKClientConfig();
        properties.forEach(c::setProperty);
        return c;
    }

    /**
     * The subject of the client certificate in the key store, as ZooKeeper's x509 scheme names the
     * session ({@code X500Principal.getName()}, e.g. {@code CN=node1,O=example}): the identity for
     * {@link DlmCredentials#x509}. The store's type is {@code zookeeper.ssl.keyStore.type}, else
     * told by the file name as ZooKeeper does (.p12/.pfx PKCS12, .jks JKS, .pem PEM is not read here).
     *
     * @throws IOException when there is no key store, it cannot be opened, or it holds no key
     */
    public String clientCertificateSubject() throws IOException {
        String path = properties.get(KEY_STORE);
        if (path == null) throw new IOException("no " + KEY_STORE + ": x509 needs a client certificate");
        String type = properties.get("zookeeper.ssl.keyStore.type");
        String lower = path.toLowerCase(Locale.ROOT);
        if (type == null) type = lower.endsWith(".jks") ? "JKS" : "PKCS12";
        String password = properties.getOrDefault(KEY_STORE_PASSWORD, "");
        try (InputStream in = Files.newInputStream(Path.of(path))) {
            KeyStore ks = KeyStore.getInstance(type);
            ks.load(in, password.toCharArray());
            for (String alias : Collections.list(ks.aliases())) {
                if (ks.isKeyEntry(alias) && ks.getCertificate(alias) instanceof X509Certificate c) {
                    return c.getSubjectX500Principal().getName();
                }
            }
            throw new IOException(path + " holds no private key with an X.509 certificate");
        } catch (GeneralSecurityException e) {
            throw new IOException("cannot open the key store " + path + " as " + type + ": " + e.getMessage(), e);
        }
    }

    /** The settings, passwords included. */
    public Map<String, String> properties() {
        return properties;
    }

    @Override
    public String toString() {
        Map<String, String> shown = new TreeMap<>(properties);
        shown.replaceAll((k, v) -> k.toLowerCase(Locale.ROOT).contains("password") ? "***" : v);
        return "TLS " + shown;
    }
}
