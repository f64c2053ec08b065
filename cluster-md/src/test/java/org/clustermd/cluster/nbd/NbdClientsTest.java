package org.clustermd.cluster.nbd;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Random;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real NBD clients (qemu-io, nbdinfo, nbdcopy, fio's nbd engine) against a standalone array's export. */
class NbdClientsTest {
    private static final long SIZE = 64L << 20;

    @TempDir
    Path dir;

    @Test
    void qemuIoWritesReadsAndVerifiesPatterns() throws Exception {
        Tools.require("qemu-io", "qemu-utils");
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            String out = Tools.runWithin(
                    Duration.ofSeconds(120),
                    null,
                    "qemu-io",
                    "-f",
                    "raw",
                    x.uri(),
                    "-c",
                    "write -P 0xab 0 1M",
                    "-c",
                    "write -P 0xcd 1M 64k",
                    "-c",
                    "write -P 0x5a -f 8M 4k",
                    "-c",
                    "flush",
                    "-c",
                    "read -P 0xab 0 1M",
                    "-c",
                    "read -P 0xcd 1M 64k",
                    "-c",
                    "read -P 0x5a 8M 4k",
                    "-c",
                    "read -P 0 9M 1M",
                    "-c",
                    "discard 16M 1M",
                    "-c",
                    "aio_write -P 0x11 20M 128k",
                    "-c",
                    "aio_write -P 0x22 21M 128k",
                    "-c",
                    "aio_flush",
                    "-c",
                    "read -P 0x11 20M 128k",
                    "-c",
                    "read -P 0x22 21M 128k");
            assertThat(out).doesNotContain("Pattern verification failed").doesNotContainIgnoringCase("error");
            // both legs hold what the client wrote
            for (int leg = 0; leg < 2; leg++) {
                assertThat(x.legBytes(leg, 0, 1 << 20)).as("leg %d at 0", leg).containsOnly((byte) 0xab);
                assertThat(x.legBytes(leg, 8 << 20, 4096))
                        .as("leg %d at 8M (FUA)", leg)
                        .containsOnly((byte) 0x5a);
                assertThat(x.legBytes(leg, 21 << 20, 128 << 10))
                        .as("leg %d at 21M", leg)
                        .containsOnly((byte) 0x22);
            }
        }
    }

    @Test
    void qemuIoRefusesAnUnknownExport() throws Exception {
        Tools.require("qemu-io", "qemu-utils");
        try (TestExport x = TestExport.start(dir, 1, SIZE)) {
            Tools.Result r = Tools.exec(
                    Duration.ofSeconds(60),
                    null,
                    java.util.List.of(
                            "qemu-io", "-f", "raw", "nbd://127.0.0.1:" + x.port() + "/nosuch", "-c", "read 0 4k"));
            assertThat(r.exit()).isNotZero();
            assertThat(r.output()).contains("nosuch");
        }
    }

    @Test
    void nbdinfoReportsSizeBlockSizesAndList() throws Exception {
        Tools.require("nbdinfo", "libnbd-bin");
        try (TestExport x = TestExport.start(dir, 1, SIZE)) {
            String info = Tools.runWithin(Duration.ofSeconds(60), null, "nbdinfo", "--json", x.uri());
            assertThat(info)
                    .contains("\"export-name\": \"md0\"")
                    .contains("\"export-size\": " + SIZE)
                    .contains("\"block_size_minimum\": " + x.array.logicalBlockSize())
                    .contains("\"block_size_maximum\": " + NbdServer.DEFAULT_MAX_PAYLOAD)
                    .contains("\"can_flush\": true")
                    .contains("\"can_fua\": true")
                    .contains("\"can_trim\": true")
                    .contains("\"can_multi_conn\": true");
            String list =
                    Tools.runWithin(Duration.ofSeconds(60), null, "nbdinfo", "--list", "nbd://127.0.0.1:" + x.port());
            assertThat(list).contains("md0");
        }
    }

    @Test
    void nbdcopyInAndOutIsByteIdentical() throws Exception {
        Tools.require("nbdcopy", "libnbd-bin");
        Tools.require("cmp", "diffutils");
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            Path in = dir.resolve("in.img");
            Path out = dir.resolve("out.img");
            byte[] data = new byte[(int) SIZE];
            new Random(42).nextBytes(data);
            Files.write(in, data);
            // nbdcopy uses several connections at once (the export says CAN_MULTI_CONN) and flushes at the end
            Tools.runWithin(Duration.ofSeconds(180), null, "nbdcopy", "--flush", in.toString(), x.uri());
            Tools.runWithin(Duration.ofSeconds(180), null, "nbdcopy", x.uri(), out.toString());
            Tools.runWithin(Duration.ofSeconds(60), null, "cmp", in.toString(), out.toString());
        }
    }

    @Test
    void fioNbdEngineRandomWritesVerify() throws Exception {
        Tools.require("fio", "fio");
        try (TestExport x = TestExport.start(dir, 2, SIZE)) {
            String out = Tools.runWithin(
                    Duration.ofSeconds(300),
                    null,
                    "fio",
                    "--name=nbdverify",
                    "--ioengine=nbd",
                    "--uri=" + x.uri(),
                    "--rw=randwrite",
                    "--bs=4k",
                    "--iodepth=32",
                    "--size=32m",
                    "--verify=crc32c",
                    "--verify_fatal=1",
                    "--do_verify=1",
                    "--verify_state_save=0",
                    "--randrepeat=1",
                    "--randseed=7",
                    "--output-format=terse");
            assertThat(out).doesNotContain("verify: bad magic").doesNotContain("crc32c: verify failed");
            String seq = Tools.runWithin(
                    Duration.ofSeconds(300),
                    null,
                    "fio",
                    "--name=nbdseq",
                    "--ioengine=nbd",
                    "--uri=" + x.uri(),
                    "--rw=write",
                    "--bs=1m",
                    "--iodepth=8",
                    "--size=48m",
                    "--offset=16m",
                    "--verify=crc32c",
                    "--verify_fatal=1",
                    "--do_verify=1",
                    "--verify_state_save=0",
                    "--output-format=terse");
            assertThat(seq).doesNotContain("verify failed");
        }
    }
}
