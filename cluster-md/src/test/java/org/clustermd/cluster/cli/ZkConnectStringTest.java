package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class ZkConnectStringTest {
    @Test
    void everyFormZooKeeperAcceptsIsAccepted() {
        for (String ok : new String[] {
            "127.0.0.1:2181",
            "zk1:2181,zk2:2182,zk3.example.com:2183",
            "zk1:2181,zk2:2181/clustermd",
            "[::1]:2181",
            "[fe80::1]:2181,[::1]:2182/a/b",
            "my-host_1:65535"
        }) {
            assertThatCode(() -> ZkConnectString.check(ok)).as(ok).doesNotThrowAnyException();
        }
    }

    @Test
    void malformedStringsAreRefusedNamingThePart() {
        for (String bad : new String[] {
            "",
            " ",
            "garbage::x",
            "host",
            "host:",
            ":2181",
            "host:0",
            "host:65536",
            "a:1,,b:2",
            "a:1,",
            "::1:2181",
            "h o:1",
            "a:1/x/"
        }) {
            assertThatThrownBy(() -> ZkConnectString.check(bad))
                    .as("'%s'", bad)
                    .isInstanceOf(IllegalArgumentException.class);
        }
        assertThatThrownBy(() -> ZkConnectString.check("a:1,b:x")).hasMessageContaining("port 'x'");
    }
}
