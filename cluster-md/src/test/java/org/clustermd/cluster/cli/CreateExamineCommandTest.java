package org.clustermd.cluster.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.cluster.cli.CliHarness.run;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clustermd.cluster.cli.CliHarness.Result;
import org.clustermd.testkit.LoopDevice;
import org.clustermd.testkit.Mdadm;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code clustermd create} then {@code clustermd examine --json} agree with mdadm 4.2:
 * {@code mdadm --examine} on each leg file and {@code mdadm --examine-bitmap} on a loop device
 * (mdadm reads a plain file as an external bitmap), for uuid, name, level, raid disks, events,
 * roles, cluster name, nodes, chunk size and every slot's events and dirty count.
 */
class CreateExamineCommandTest {
    @TempDir
    Path dir;

    private List<Path> legs(int n, long bytes) throws Exception {
        return CliHarness.legs(dir, n, bytes);
    }

    private static String[] args(List<Path> legs, String... options) {
        List<String> a = new ArrayList<>(List.of(options));
        legs.forEach(p -> a.add(p.toString()));
        return a.toArray(String[]::new);
    }

    @Test
    void createThenExamineJsonAgreesWithMdadmExamineAndExamineBitmap() throws Exception {
        assertThat(Tools.have("mdadm") && Tools.have("jq"))
                .as("mdadm and jq are needed: apt-get install mdadm jq (bin/test installs them)")
                .isTrue();
        List<Path> legs = legs(3, 40L << 20);
        Result c = run(args(
                legs,
                "create",
                "--name",
                "md7",
                "--cluster-name",
                "alpha",
                "--nodes",
                "3",
                "--raid-devices",
                "2",
                "--spare-devices",
                "1",
                "--bitmap-chunk",
                "512K",
                "--size",
                "32M"));
        assertThat(c.code()).as(c.err()).isZero();
        assertThat(c.out())
                .contains("created md7: raid1 on 3 legs (2 active, 1 spare)")
                .contains("chunk 512 KiB")
                .contains("the first node to assemble resyncs");

        for (int i = 0; i < legs.size(); i++) {
            Path leg = legs.get(i);
            Result e = run("examine", "--json", leg.toString());
            assertThat(e.code()).as(e.err()).isZero();
            String json = e.out();
            Map<String, String> md = Mdadm.fields(Mdadm.examine(leg));
            assertThat(md.get("Array UUID")).isEqualTo(Tools.jq(json, ".set_uuid"));
            assertThat(md.get("Name")).startsWith(Tools.jq(json, ".set_name")).startsWith("md7");
            assertThat(md.get("Raid Level")).isEqualTo("raid" + Tools.jq(json, ".level"));
            assertThat(md.get("Raid Devices"))
                    .isEqualTo(Tools.jq(json, ".raid_disks"))
                    .isEqualTo("2");
            assertThat(md.get("Events")).isEqualTo(Tools.jq(json, ".events"));
            assertThat(md.get("Cluster Name"))
                    .isEqualTo(Tools.jq(json, ".bitmap.cluster_name"))
                    .isEqualTo("alpha");
            assertThat(md.get("Array State")).startsWith(Tools.jq(json, ".array_state") + " ");
            assertThat(md.get("Checksum")).endsWith("correct");
            String role = Tools.jq(json, ".dev_roles[.dev_number] // \"spare\"");
            assertThat(md.get("Device Role")).isEqualTo(i < 2 ? "Active device " + role : "spare");
            assertThat(Tools.jq(json, ".device_role")).isEqualTo(md.get("Device Role"));
            assertThat(Tools.jq(json, ".dev_roles | map(tostring) | join(\",\")"))
                    .isEqualTo("0,1");
        }

        try (LoopDevice loop = LoopDevice.attach(legs.get(1))) {
            String json = run("examine", "--json", legs.get(1).toString()).out();
            String x = Mdadm.examineBitmap(loop.path());
            Map<String, String> top = Mdadm.fields(x);
            assertThat(top.get("UUID")).isEqualTo(Tools.jq(json, ".bitmap.uuid"));
            assertThat(top.get("Chunksize")).isEqualTo("512 KB");
            assertThat(Tools.jq(json, ".bitmap.chunksize")).isEqualTo(String.valueOf(512 << 10));
            assertThat(top.get("Cluster nodes"))
                    .isEqualTo(Tools.jq(json, ".bitmap.nodes"))
                    .isEqualTo("3");
            assertThat(top.get("Cluster name")).isEqualTo(Tools.jq(json, ".bitmap.cluster_name"));
            List<Map<String, String>> slots = Mdadm.slotSections(x);
            assertThat(slots).hasSize(3);
            for (int s = 0; s < 3; s++) {
                assertThat(slots.get(s).get("Node Slot")).isEqualTo(String.valueOf(s));
                assertThat(slots.get(s).get("Events")).isEqualTo(Tools.jq(json, ".bitmap.slots[" + s + "].events"));
                String chunks = Tools.jq(json, ".bitmap.slots[" + s + "].chunks");
                String dirty = Tools.jq(json, ".bitmap.slots[" + s + "].dirty");
                assertThat(slots.get(s).get("Bitmap")).startsWith(chunks + " bits (chunks), " + dirty + " dirty");
            }
            assertThat(Tools.jq(json, "[.bitmap.slots[].dirty] | map(tostring) | join(\",\")"))
                    .as("slot 0 makes the first node resync everything")
                    .isEqualTo("64,0,0");
        }
    }

    @Test
    void textExamineReadsLikeMdadm() throws Exception {
        List<Path> legs = legs(2, 16L << 20);
        assertThat(run(args(
                                legs,
                                "create",
                                "--name",
                                "md1",
                                "--cluster-name",
                                "beta",
                                "--nodes",
                                "2",
                                "--assume-clean",
                                "--bitmap-chunk",
                                "1M"))
                        .code())
                .isZero();
        Result e = run("examine", legs.get(0).toString());
        assertThat(e.code()).isZero();
        assertThat(e.out())
                .contains("Cluster Name : beta")
                .contains("Raid Level : raid1")
                .contains("State : clean")
                .contains("Node Slot : 1")
                .contains("0 dirty");
    }

    @Test
    void badInputIsAUsageErrorOrAFailureThatSaysWhy() throws Exception {
        List<Path> legs = legs(2, 16L << 20);
        String[][] usage = {
            args(legs, "create", "--name", "md0", "--cluster-name", "c"), // no --nodes
            args(legs, "create", "--name", "md0", "--cluster-name", "c", "--nodes", "2", "--size", "12Q"),
            args(legs, "create", "--name", "md0", "--cluster-name", "c", "--nodes", "2", "--bitmap-chunk", "3K"),
            args(legs, "create", "--name", "md0", "--cluster-name", "c", "--nodes", "2", "--raid-devices", "3"),
            args(legs, "create", "--name", "md0", "--cluster-name", "c", "--nodes", "0"),
            args(legs, "create", "--name", "x".repeat(40), "--cluster-name", "c", "--nodes", "2"),
            {"create", "--name", "md0", "--cluster-name", "c", "--nodes", "2"}, // no leg
            {"examine"},
            {"examine", legs.get(0).toString(), legs.get(1).toString()},
        };
        for (String[] a : usage) {
            Result r = run(a);
            assertThat(r.code()).as("%s -> %s", String.join(" ", a), r.err()).isEqualTo(2);
            assertThat(r.out()).isEmpty();
        }
        assertThat(run(args(legs, "create", "--name", "md0", "--cluster-name", "c", "--nodes", "2", "--size", "12Q"))
                        .err())
                .contains("'12Q' is not a size");
        assertThat(run(args(
                                legs,
                                "create",
                                "--name",
                                "md0",
                                "--cluster-name",
                                "c",
                                "--nodes",
                                "2",
                                "--raid-devices",
                                "3"))
                        .err())
                .contains("--raid-devices 3 + --spare-devices 0 must be the 2 legs given");

        Result missing = run(
                "create",
                "--name",
                "md0",
                "--cluster-name",
                "c",
                "--nodes",
                "2",
                legs.get(0).toString(),
                dir.resolve("nope").toString());
        assertThat(missing.code()).isEqualTo(1);
        assertThat(missing.err()).startsWith("clustermd create: ").contains("nope");
        Result tooSmall =
                run(args(legs, "create", "--name", "md0", "--cluster-name", "c", "--nodes", "2", "--size", "1G"));
        assertThat(tooSmall.code()).isEqualTo(1);
        assertThat(tooSmall.err()).contains("less than --size");
        Result plain = run("examine", legs.get(0).toString());
        assertThat(plain.code()).isEqualTo(1);
        assertThat(plain.err())
                .startsWith("clustermd examine: ")
                .contains(legs.get(0).toString())
                .contains("magic");
    }
}
