package org.clustermd.dlm.zk;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.zookeeper.client.ZKClientConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ZkClientTls}: a ZooKeeper client properties file, checked before any connection. */
class ZkClientTlsTest {
    @TempDir
    Path dir;

    private Path file(String text) throws IOException {
        return Files.writeString(dir.resolve("zk-client.properties"), text);
    }

    @Test
    void aFileOfZooKeeperKeysTurnsTlsOnWithTheNettySocketAndHidesItsPasswords() throws IOException {
        Path store = Files.writeString(dir.resolve("trust.p12"), "x");
        ZkClientTls tls = ZkClientTls.load(file("zookeeper.ssl.trustStore.location=" + store + "\n"
                + "zookeeper.ssl.trustStore.password=hunter2\n"
                + "zookeeper.ssl.hostnameVerification=false\n"));
        ZKClientConfig c = tls.clientConfig();
        assertThat(c.getProperty(ZKClientConfig.SECURE_CLIENT)).isEqualTo("true");
        assertThat(c.getProperty(ZKClientConfig.ZOOKEEPER_CLIENT_CNXN_SOCKET))
                .isEqualTo("org.apache.zookeeper.ClientCnxnSocketNetty");
        assertThat(c.getProperty("zookeeper.ssl.trustStore.password")).isEqualTo("hunter2");
        assertThat(c.getProperty("zookeeper.ssl.hostnameVerification")).isEqualTo("false");
        assertThat(tls.toString()).doesNotContain("hunter2").contains("trust.p12");

        DlmCredentials creds = DlmCredentials.digest("clustermd", "s3cret").overTls(tls);
        assertThat(creds.tls()).isSameAs(tls);
        assertThat(creds.authScheme()).isEqualTo("digest");
        assertThat(creds.acl())
                .isEqualTo(DlmCredentials.digest("clustermd", "s3cret").acl());
        assertThat(creds.toString()).doesNotContain("s3cret").doesNotContain("hunter2");
        assertThat(DlmCredentials.none().tls()).isNull();
    }

    @Test
    void settingsThatCannotBeTlsAreRefusedNamingTheFileAndKey() throws IOException {
        assertThatThrownBy(() -> ZkClientTls.load(file("ssl.trustStore.location=/x\n")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("zk-client.properties")
                .hasMessageContaining("'ssl.trustStore.location' is not a ZooKeeper client setting");
        assertThatThrownBy(() -> ZkClientTls.load(file("zookeeper.client.secure=false\n")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("zookeeper.client.secure=false");
        assertThatThrownBy(() ->
                        ZkClientTls.load(file("zookeeper.clientCnxnSocket=org.apache.zookeeper.ClientCnxnSocketNIO\n")))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("ClientCnxnSocketNetty");
        assertThatThrownBy(() -> ZkClientTls.load(file("zookeeper.ssl.keyStore.location=" + dir.resolve("none.p12"))))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("zookeeper.ssl.keyStore.location")
                .hasMessageContaining("none.p12");
        assertThatThrownBy(() -> ZkClientTls.load(dir.resolve("absent.properties")))
                .isInstanceOf(IOException.class);
    }
}
