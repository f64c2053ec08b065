package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code clustermd demo} as the README runs it, in this JVM (its nodes are separate processes):
 * exit 0, the workload through the nodes' NBD exports, the kill, the survivors' recovery and
 * resync shown live (with their status), a summary, and nothing left running or on disk.
 */
class DemoCommandTest {
    @Test
    void theDemoKillsANodeRecoversItsChunksVerifiesEveryWriteAndCleansUp() {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = ClusterMdMain.run(new String[] {"demo"}, new PrintWriter(out, true), new PrintWriter(err, true));
        String text = out.toString();
        assertThat(code).as("exit code; stdout:%n%s%nstderr:%n%s", text, err).isZero();
        assertThat(text)
                .contains(
                        "[node1] joined slot 0 of 3",
                        "[node3] joined slot 2 of 3",
                        "SIGKILL node3 (pid ",
                        "[node1] recover_slot 2",
                        "[node2] recover_slot 2",
                        "SIGTERM node1, node2",
                        "RESULT: OK");
        // by default every node writes into every chunk while the initial resync runs (issue 11 item 7)
        assertThat(text)
                .contains("no --assume-clean", "--sync-speed-max ", "while the initial resync runs under them")
                .containsPattern("initial resync done by node\\d \\(\\d+ \\S+ copied\\) under the writes of all 3 nodes"
                        + " into every chunk; [1-9]\\d* writes acknowledged durable so far");
        // the workload goes through the nodes' NBD exports, its ack log on the client side
        assertThat(text)
                .contains(
                        "[node1] NBD export md0 on 127.0.0.1:",
                        "[node3] NBD export md0 on 127.0.0.1:",
                        "NBD client -> node1 (127.0.0.1:",
                        "NBD client -> node3 (127.0.0.1:",
                        "the NBD client of node3 lost its connection",
                        "every acknowledged write read back through node1's NBD export")
                .containsPattern("\\[status node[12]\\] md0 : active raid1 .*\\[2/2\\] \\[UU\\]")
                .containsPattern("node2 \\(slot 1\\): [1-9]\\d* writes acknowledged durable through NBD .*"
                        + "all in its ack log.*every one intact, through NBD and after the shutdown");
        assertThat(text)
                .containsPattern("\\[node[12]\\] copied \\d+ dirty chunks from slot 2")
                .containsPattern("\\[node[12]\\] slot 2 was clean: nothing to copy")
                .containsPattern("\\[node[12]\\] resync done: copied [1-9]\\d* bytes");
        assertThat(text)
                .containsPattern("node1 \\(slot 0\\): [1-9]\\d* writes acknowledged .*every one intact")
                .containsPattern(
                        "node3 \\(slot 2\\): [1-9]\\d* writes acknowledged .*killed with SIGKILL; every one intact")
                .containsPattern("recovered: [1-9]\\d* dirty chunks of slot 2")
                .contains("resynced: ")
                .contains("= 1.00 x (dirty chunks x 1 MiB)")
                .contains("legs: byte-identical");
        Matcher dir = Pattern.compile("working in (\\S+)").matcher(text);
        assertThat(dir.find()).isTrue();
        assertThat(Files.exists(Path.of(dir.group(1))))
                .as("the demo's directory is removed")
                .isFalse();
        assertThat(ProcessHandle.current()
                        .descendants()
                        .filter(ProcessHandle::isAlive)
                        .count())
                .as("no node process left")
                .isZero();
    }

    @Test
    void anUnknownLayoutIsAUsageErrorBeforeAnythingStarts() {
        CliHarness.Result r = CliHarness.run("demo", "--layout", "diagonal");
        assertThat(r.code()).as(r.err()).isEqualTo(2);
        assertThat(r.err()).contains("--layout must be disjoint or interleaved");
        assertThat(r.out()).doesNotContain("working in");
    }
}
