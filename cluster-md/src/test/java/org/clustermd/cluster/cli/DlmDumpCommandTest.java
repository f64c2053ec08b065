package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceOptions;
import org.clustermd.dlm.server.EmbeddedZooKeeper;
import org.clustermd.dlm.server.ZooKeeperSettings;
import org.clustermd.dlm.zk.ZkLockManager;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DlmDumpCommandTest {
    @Test
    void dumpListsMembersAndLocksAsTextAndJson(@TempDir Path dir) throws Exception {
        try (EmbeddedZooKeeper zk = EmbeddedZooKeeper.start(
                        Files.createDirectories(dir.resolve("zk")), 0, ZooKeeperSettings.forTests());
                ZkLockManager m = ZkLockManager.builder()
                        .connectString(zk.connectString())
                        .cluster("c1")
                        .nodeName("node-a")
                        .build()) {
            LockSpace ls = m.join("md0", LockSpaceOptions.of(4));
            ls.resource("token").convert(LockMode.EX);

            Result text = run("dlm", "dump", "--zk", zk.connectString(), "--cluster", "c1");
            assertThat(text.code()).as(text.err()).isZero();
            assertThat(text.out())
                    .contains("lockspace md0")
                    .contains("node-a")
                    .contains("resource token")
                    .containsPattern("granted\\s+slot 0\\s+lock 1\\s+EX");

            Result json = run("dlm", "dump", "--zk", zk.connectString(), "--cluster", "c1", "--json");
            assertThat(json.code()).isZero();
            assertThat(json.out().trim())
                    .startsWith("{\"cluster\":\"c1\",\"lockSpaces\":[{\"name\":\"md0\"")
                    .contains("\"nodeName\":\"node-a\"")
                    .contains("\"granted\":\"EX\"");

            Result missing = run("dlm", "dump", "--zk", zk.connectString(), "--cluster", "nope");
            assertThat(missing.code()).isEqualTo(1);
            assertThat(missing.err())
                    .contains("no cluster 'nope'")
                    .contains("NOT_FOUND")
                    .doesNotContain("CORRUPT_STATE");

            Result usage = run("dlm", "dump", "--cluster", "c1");
            assertThat(usage.code()).isEqualTo(2);
            assertThat(usage.err()).contains("--zk");
        }
    }
}
