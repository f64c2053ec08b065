package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;

class ClusterMdCommandTest {
    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return ClusterMdMain.run(args, new PrintWriter(out, true), new PrintWriter(err, true));
    }

    @Test
    void helpListsEveryVerbAndExitsZero() {
        assertThat(run("--help")).isZero();
        assertThat(out.toString())
                .contains("Usage: clustermd")
                .contains("zk")
                .contains("--verbose")
                .contains("demo")
                .contains("create")
                .contains("examine")
                .contains("node");
    }

    @Test
    void versionNamesTheBuildZooKeeperAndJava() {
        assertThat(run("--version")).isZero();
        assertThat(out.toString())
                .containsPattern("clustermd \\d+\\.\\d+\\.\\d+")
                .contains("ZooKeeper 3.9.5")
                .contains("Java ");
    }

    @Test
    void everyVerbHasHelpAndVersion() {
        assertThat(run("zk", "--help")).isZero();
        assertThat(out.toString())
                .contains("Usage: clustermd zk")
                .contains("--port")
                .contains("--data")
                .contains("--tick-time");
        assertThat(run("zk", "--version")).isZero();
        assertThat(out.toString()).contains("ZooKeeper 3.9.5");
    }

    @Test
    void usageErrorsExitTwoWithAMessageOnStderr() {
        assertThat(run()).isEqualTo(2);
        assertThat(err.toString()).contains("Missing verb");
        assertThat(run("no-such-verb")).isEqualTo(2);
        assertThat(run("zk", "--no-such-option")).isEqualTo(2);
        assertThat(err.toString()).contains("--no-such-option");
        assertThat(run("zk", "--port", "seventy")).isEqualTo(2);
        assertThat(run("zk", "--port", "70000")).isEqualTo(2);
        assertThat(err.toString()).contains("--port must be 0..65535");
        assertThat(out.toString()).isEmpty();
    }

    @Test
    void verboseIsAcceptedBeforeAndAfterTheVerb() {
        assertThat(run("--verbose", "zk", "--help")).isZero();
        assertThat(run("zk", "--verbose", "--help")).isZero();
        assertThat(CliLogging.isVerbose()).isTrue();
        CliLogging.setVerbose(false);
    }
}
