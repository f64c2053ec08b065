package org.clustermd.bench.storage;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class FioReportTest {
    /** A real fio 3.33 report of {@code peers copy} (read job r, write job w), 32 MiB. */
    private static String copyReport() throws IOException {
        try (InputStream in = FioReportTest.class.getResourceAsStream("/fio-copy.json")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    @Test
    void readsTheJobsOfARealReport() throws IOException {
        FioReport r = FioReport.parse("fio ...", copyReport());
        assertThat(r.jobs()).extracting(FioReport.Job::name).containsExactly("r", "w");
        FioReport.Job read = r.jobs().get(0);
        FioReport.Job write = r.jobs().get(1);
        assertThat(read.readBytesPerSecond()).isEqualTo(1118481066.0);
        assertThat(read.writeBytesPerSecond()).isZero();
        assertThat(write.writeBytesPerSecond()).isEqualTo(1118481066.0);
        assertThat(write.error()).isZero();
        assertThat(r.copyMibPerSecond()).isCloseTo(1118481066.0 / (1 << 20), within(1e-9));
    }

    @Test
    void mirroredFiguresTakeTheSlowerLeg() {
        String json = "{\"jobs\":[" + job("l0", 100, 4096e5) + "," + job("l1", 80, 2048e5) + "]}";
        FioReport r = FioReport.parse("cmd", json);
        assertThat(r.minWriteIops()).isEqualTo(80);
        assertThat(r.minWriteMibPerSecond()).isEqualTo(2048e5 / (1 << 20));
    }

    @Test
    void aReportWithoutJobsOrSectionsIsRefusedByName() {
        assertThatThrownBy(() -> FioReport.parse("cmd", "{\"fio version\": \"fio-3.33\"}"))
                .hasMessageContaining("\"jobs\"");
        assertThatThrownBy(() -> FioReport.parse("cmd", "{\"jobs\":[{\"jobname\":\"l0\",\"read\":{}}]}"))
                .hasMessageContaining("l0")
                .hasMessageContaining("write");
        assertThatThrownBy(() -> FioReport.parse(
                        "cmd",
                        "{\"jobs\":[{\"jobname\":\"l0\",\"read\":{\"iops\":1,\"bw_bytes\":0},"
                                + "\"write\":{\"iops\":\"x\",\"bw_bytes\":1}}]}"))
                .hasMessageContaining("iops");
    }

    @Test
    void warningsPrintedBeforeTheReportAreSkipped() {
        FioReport r =
                FioReport.parse("cmd", "fio: file hash not empty on exit\n{\"jobs\":[" + job("l0", 100, 4096e5) + "]}");
        assertThat(r.jobs()).extracting(FioReport.Job::name).containsExactly("l0");
    }

    @Test
    void outputThatIsNotJsonIsRefused() {
        assertThatThrownBy(() -> FioReport.parse("cmd", "{\"jobs\": [1,, ]}"))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("not JSON");
        assertThatThrownBy(() -> FioReport.parse("cmd", "{\"jobs\": [1, 2"))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> FioReport.parse("cmd", "no json here")).hasMessageContaining("no JSON");
    }

    @Test
    void aPeerOnHugePagesGetsGlibcsHugePageMallocAndNoOtherDoes() {
        // the sequential peers' buffers lie on huge pages as our lanes' do (docs/lessons.md §70)
        assertThat(Fio.process(List.of("fio"), true).environment())
                .containsEntry("GLIBC_TUNABLES", "glibc.malloc.hugetlb=1");
        assertThat(Fio.process(List.of("fio"), false).environment().get("GLIBC_TUNABLES"))
                .isEqualTo(System.getenv("GLIBC_TUNABLES"));
        assertThat(Fio.HUGE_PAGE_MALLOC).isEqualTo("GLIBC_TUNABLES=glibc.malloc.hugetlb=1");
    }

    @Test
    void commandLinesAreThoseOfThePeersScriptPlusTheDataArea() {
        Path a = Path.of("/d/leg0");
        Path b = Path.of("/d/leg1");
        assertThat(Fio.mirrorRandwrite(a, b, 1048576, 1L << 30, 15))
                .containsExactly(
                        "--ioengine=libaio",
                        "--direct=1",
                        "--bs=4k",
                        "--iodepth=32",
                        "--offset=1048576",
                        "--size=1073741824",
                        "--rw=randwrite",
                        "--runtime=15",
                        "--time_based",
                        "--name=l0",
                        "--filename=/d/leg0",
                        "--name=l1",
                        "--filename=/d/leg1");
        assertThat(Fio.mirrorSeqwrite(a, b, 0, 1L << 30))
                .containsExactly(
                        "--ioengine=libaio",
                        "--direct=1",
                        "--bs=1M",
                        "--iodepth=8",
                        "--offset=0",
                        "--size=1073741824",
                        "--rw=write",
                        "--name=l0",
                        "--filename=/d/leg0",
                        "--name=l1",
                        "--filename=/d/leg1");
        assertThat(Fio.copy(a, b, 0, 1L << 30))
                .isEqualTo(List.of(
                        "--ioengine=libaio",
                        "--direct=1",
                        "--bs=1M",
                        "--iodepth=8",
                        "--offset=0",
                        "--size=1073741824",
                        "--name=r",
                        "--rw=read",
                        "--filename=/d/leg0",
                        "--name=w",
                        "--rw=write",
                        "--filename=/d/leg1"));
    }

    private static String job(String name, double iops, double bw) {
        return "{\"jobname\":\"" + name + "\",\"error\":0,\"read\":{\"iops\":0,\"bw_bytes\":0},\"write\":{\"iops\":"
                + iops + ",\"bw_bytes\":" + bw + "}}";
    }
}
