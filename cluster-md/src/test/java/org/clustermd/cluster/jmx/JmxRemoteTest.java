package org.clustermd.cluster.jmx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import javax.management.Attribute;
import javax.management.MBeanServer;
import javax.management.MBeanServerConnection;
import javax.management.MBeanServerFactory;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.clustermd.cluster.ClusteredArray;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Remote JMX: what opens, what is refused, and that no client can create or remove an MBean. */
class JmxRemoteTest {
    @TempDir
    Path dir;

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private ClusteredArray array() throws Exception {
        List<Path> legs = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path f = dir.resolve("leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(16L << 20);
            }
            legs.add(f);
        }
        ArrayCreator.create(
                CreateOptions.builder("md0")
                        .nodes(1)
                        .bitmapChunk(1 << 20)
                        .assumeClean(true)
                        .build(),
                legs);
        return ClusteredArray.builder().name("md0").legs(legs).standalone().open();
    }

    private static void assertNoClientMayCreateOrRemove(MBeanServerConnection c) {
        assertThatThrownBy(() -> c.createMBean("javax.management.timer.Timer", new ObjectName("evil:type=Timer")))
                .isInstanceOf(SecurityException.class);
        assertThatThrownBy(() -> c.unregisterMBean(JmxExport.arrayName("md0"))).isInstanceOf(SecurityException.class);
    }

    @Test
    void insecureLocalhostBindsLoopbackOnlyAndStillRefusesCreation() throws Exception {
        MBeanServer mbs = MBeanServerFactory.newMBeanServer();
        int port = freePort();
        try (ClusteredArray md0 = array();
                JmxExport export = JmxExport.register(md0, mbs);
                JmxRemote remote = JmxRemote.start(port, JmxSettings.insecureLocalhost(), mbs);
                JMXConnector c = JMXConnectorFactory.connect(JmxRemote.clientUrl("127.0.0.1", port))) {
            MBeanServerConnection conn = c.getMBeanServerConnection();
            assertThat(conn.getAttribute(JmxExport.arrayName("md0"), "Level")).isEqualTo("raid1");
            conn.setAttribute(JmxExport.arrayName("md0"), new Attribute("SyncSpeedMax", 7000L));
            assertThat(md0.syncSpeedMax()).isEqualTo(7000);
            assertNoClientMayCreateOrRemove(conn);
            assertThat(mbs.isRegistered(new ObjectName("evil:type=Timer"))).isFalse();
            assertThat(mbs.isRegistered(JmxExport.arrayName("md0"))).isTrue();
            // nothing listens on the other addresses of this host
            for (var nic : java.util.Collections.list(java.net.NetworkInterface.getNetworkInterfaces())) {
                for (var addr : java.util.Collections.list(nic.getInetAddresses())) {
                    if (addr.isLoopbackAddress() || addr instanceof java.net.Inet6Address) continue;
                    try (java.net.Socket s = new java.net.Socket()) {
                        assertThatThrownBy(() -> s.connect(new java.net.InetSocketAddress(addr, port), 2000))
                                .as("port %d on %s", port, addr)
                                .isInstanceOf(java.io.IOException.class);
                    }
                }
            }
        }
    }

    @Test
    void settingsThatWouldOpenJmxToAnyoneAreRefused() throws Exception {
        MBeanServer mbs = MBeanServerFactory.newMBeanServer();
        Path pw = Files.writeString(dir.resolve("jmx.password"), "admin s3cret\n");
        Path access = Files.writeString(dir.resolve("jmx.access"), "admin readwrite\n");
        Path creating = Files.writeString(
                dir.resolve("jmx.access.create"), "admin readwrite create javax.management.timer.*\n");
        Path ks = dir.resolve("ks.p12");
        Object[][] cases = {
            {Map.of(JmxSettings.AUTHENTICATE, "false"), "authenticate=false is refused"},
            {Map.of(JmxSettings.SSL, "false", JmxSettings.PASSWORD_FILE, pw.toString()), "ssl=false is refused"},
            {Map.of("javax.net.ssl.keyStore", ks.toString()), "password.file is required"},
            {
                Map.of("javax.net.ssl.keyStore", ks.toString(), JmxSettings.PASSWORD_FILE, pw.toString()),
                "access.file is required"
            },
            {
                Map.of(
                        "javax.net.ssl.keyStore",
                        ks.toString(),
                        JmxSettings.PASSWORD_FILE,
                        pw.toString(),
                        JmxSettings.ACCESS_FILE,
                        creating.toString()),
                "no role may create MBeans"
            },
            {
                Map.of(JmxSettings.PASSWORD_FILE, pw.toString(), JmxSettings.ACCESS_FILE, access.toString()),
                "javax.net.ssl.keyStore"
            },
            {Map.of(JmxSettings.AUTHENTICATE, "maybe"), "must be true or false"},
        };
        for (Object[] c : cases) {
            Properties p = new Properties();
            p.putAll((Map<?, ?>) c[0]);
            int port = freePort();
            assertThatThrownBy(() -> JmxRemote.start(port, JmxSettings.of(p), mbs))
                    .as("%s", c[0])
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining((String) c[1]);
            try (ServerSocket s = new ServerSocket(port)) {
                assertThat(s.getLocalPort())
                        .as("a refused start leaves the port free")
                        .isEqualTo(port);
            }
        }
    }

    @Test
    void authenticatedTlsRefusesStrangersAndReadOnlyWritesAndEveryCreation() throws Exception {
        Path ks = dir.resolve("server.p12");
        Process p = new ProcessBuilder(
                        Path.of(System.getProperty("java.home"), "bin", "keytool")
                                .toString(),
                        "-genkeypair",
                        "-alias",
                        "jmx",
                        "-keyalg",
                        "EC",
                        "-dname",
                        "CN=127.0.0.1",
                        "-ext",
                        "SAN=ip:127.0.0.1",
                        "-validity",
                        "2",
                        "-storetype",
                        "PKCS12",
                        "-keystore",
                        ks.toString(),
                        "-storepass",
                        "changeit")
                .redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes());
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as(out).isZero();
        Path pw = Files.writeString(dir.resolve("jmx.password"), "admin s3cret\nmonitor look\n");
        Files.setPosixFilePermissions(pw, PosixFilePermissions.fromString("rw-------"));
        Path access = Files.writeString(dir.resolve("jmx.access"), "admin readwrite\nmonitor readonly\n");
        Path config = Files.writeString(
                dir.resolve("management.properties"),
                String.join(
                        "\n",
                        JmxSettings.PASSWORD_FILE + "=" + pw,
                        JmxSettings.ACCESS_FILE + "=" + access,
                        JmxSettings.HOST + "=127.0.0.1",
                        "javax.net.ssl.keyStore=" + ks,
                        "javax.net.ssl.keyStorePassword=changeit",
                        ""));

        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        try (var in = Files.newInputStream(ks)) {
            trust.load(in, "changeit".toCharArray());
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        SSLContext client = SSLContext.getInstance("TLS");
        client.init(null, tmf.getTrustManagers(), null);
        SSLContext before = SSLContext.getDefault();
        SSLContext.setDefault(client); // the JDK's client socket factory trusts through the default context
        MBeanServer mbs = MBeanServerFactory.newMBeanServer();
        int port = freePort();
        try (ClusteredArray md0 = array();
                JmxExport export = JmxExport.register(md0, mbs);
                JmxRemote remote = JmxRemote.start(port, JmxSettings.load(config), mbs)) {
            var url = JmxRemote.clientUrl("127.0.0.1", port);
            assertThatThrownBy(() -> JMXConnectorFactory.connect(url).close())
                    .as("no credentials")
                    .isInstanceOf(SecurityException.class);
            assertThatThrownBy(() -> JMXConnectorFactory.connect(
                                    url, Map.of(JMXConnector.CREDENTIALS, new String[] {"admin", "wrong"}))
                            .close())
                    .as("a wrong password")
                    .isInstanceOf(SecurityException.class);
            try (JMXConnector ro = JMXConnectorFactory.connect(
                    url, Map.of(JMXConnector.CREDENTIALS, new String[] {"monitor", "look"}))) {
                MBeanServerConnection c = ro.getMBeanServerConnection();
                assertThat(c.getAttribute(JmxExport.arrayName("md0"), "Name")).isEqualTo("md0");
                long max = md0.syncSpeedMax();
                assertThatThrownBy(() ->
                                c.setAttribute(JmxExport.arrayName("md0"), new Attribute("SyncSpeedMax", max + 1)))
                        .isInstanceOf(SecurityException.class);
                assertThat(md0.syncSpeedMax()).isEqualTo(max);
                assertNoClientMayCreateOrRemove(c);
            }
            try (JMXConnector rw = JMXConnectorFactory.connect(
                    url, Map.of(JMXConnector.CREDENTIALS, new String[] {"admin", "s3cret"}))) {
                MBeanServerConnection c = rw.getMBeanServerConnection();
                c.setAttribute(JmxExport.arrayName("md0"), new Attribute("SyncSpeedMax", 12345L));
                assertThat(md0.syncSpeedMax()).isEqualTo(12345);
                assertNoClientMayCreateOrRemove(c);
            }
        } finally {
            SSLContext.setDefault(before);
        }
    }
}
