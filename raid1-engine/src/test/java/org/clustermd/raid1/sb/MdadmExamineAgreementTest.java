package org.clustermd.raid1.sb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.LoopDevices;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mdadm (the reference reader of the format) agrees with what we write: {@code mdadm --examine}
 * on a plain file, and {@code mdadm --examine-bitmap} on a loop device for the clustered bitmap
 * slots that {@link DiskLayout} places. Skipped with a message when mdadm is not installed.
 */
class MdadmExamineAgreementTest {
    private static final String CLUSTER = "testcluster";

    @TempDir
    Path dir;

    @BeforeAll
    static void needMdadm() {
        assertThat(Files.isExecutable(Path.of("/sbin/mdadm")) || Files.isExecutable(Path.of("/usr/sbin/mdadm")))
                .as("mdadm is not installed: apt-get install mdadm (bin/test installs it)").isTrue();
    }

    private Path legFile(String name, long bytes) throws IOException {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        return f;
    }

    private static String run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
        assertThat(p.exitValue()).as("%s exited with %d:%n%s", String.join(" ", cmd), p.exitValue(), out).isZero();
        return out;
    }

    /** "Key : value" lines of mdadm's output, first occurrence of each key. */
    private static Map<String, String> fields(String out) {
        Map<String, String> m = new LinkedHashMap<>();
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c > 0) {
                m.putIfAbsent(line.substring(0, c).trim(), line.substring(c + 3).trim());
            }
        }
        return m;
    }

    private static void assertCommonFields(Map<String, String> f, Superblock sb, String out) {
        assertThat(f).as(out).containsEntry("Magic", "a92b4efc");
        assertThat(f.get("Version")).as(out).isEqualTo("1.2");
        assertThat(f.get("Array UUID")).as(out).isEqualTo(SuperblockCodec.mdadmUuid(sb.setUuid()));
        assertThat(f.get("Name")).as(out).startsWith(sb.setName());
        assertThat(f.get("Raid Level")).as(out).isEqualTo("raid1");
        assertThat(f.get("Raid Devices")).as(out).isEqualTo(String.valueOf(sb.raidDisks()));
        assertThat(f.get("Events")).as(out).isEqualTo(String.valueOf(sb.events()));
        assertThat(f.get("Device Role")).as(out).isEqualTo("Active device " + sb.role());
        assertThat(f.get("Device UUID")).as(out).isEqualTo(SuperblockCodec.mdadmUuid(sb.deviceUuid()));
        assertThat(f.get("Data Offset")).as(out).isEqualTo(sb.dataOffset() + " sectors");
        assertThat(f.get("Super Offset")).as(out).isEqualTo("8 sectors");
        assertThat(f.get("Avail Dev Size")).as(out).startsWith(sb.dataSize() + " sectors");
        assertThat(f.get("State")).as(out).isEqualTo("clean");
        assertThat(f.get("Array State")).as(out).startsWith("AA ");
        int csum = SuperblockCodec.checksum(SuperblockCodec.encode(sb));
        assertThat(f.get("Checksum")).as(out).isEqualTo(Integer.toHexString(csum) + " - correct");
    }

    @Test
    void mdadmExamineReadsOurNonClusteredSuperblock() throws Exception {
        Path f = legFile("leg1", 64L << 20);
        Superblock sb;
        try (BlockDevice leg = BlockDevices.open(f)) {
            DiskLayout layout = DiskLayout.compute(leg.name(), leg.size(), 1, 64 << 10);
            sb = Superblocks.raid1Member(layout, 1, false);
            SuperblockCodec.write(leg, sb);
        }
        String out = run("mdadm", "--examine", f.toString());
        Map<String, String> fl = fields(out);
        assertCommonFields(fl, sb, out);
        assertThat(fl.get("Feature Map")).as(out).isEqualTo("0x0");
        assertThat(fl).as(out).doesNotContainKey("Internal Bitmap");
    }

    @Test
    void mdadmExamineReadsOurClusteredSuperblockAndFindsTheBitmap() throws Exception {
        Path f = legFile("leg0", 256L << 20);
        Superblock sb;
        DiskLayout layout;
        try (BlockDevice leg = BlockDevices.open(f)) {
            layout = DiskLayout.compute(leg.name(), leg.size(), 4, 4096);
            assertThat(layout.slotBytes()).as("a stride over one page exercises the formula").isEqualTo(12288);
            sb = Superblocks.raid1Member(layout, 0, true);
            SuperblockCodec.write(leg, sb);
            writeBitmapSlots(leg, layout, sb);
        }
        String out = run("mdadm", "--examine", f.toString());
        Map<String, String> fl = fields(out);
        assertCommonFields(fl, sb, out);
        assertThat(fl.get("Feature Map")).as(out).isEqualTo("0x101");
        assertThat(fl.get("Cluster Name")).as(out).isEqualTo(CLUSTER);
        assertThat(fl.get("Internal Bitmap")).as(out).isEqualTo("8 sectors from superblock");

        // the per-slot stride: mdadm finds every node's bitmap where DiskLayout put it
        Path loop = LoopDevices.attach(f);
        Assumptions.assumeTrue(loop != null, "no loop device can be attached: skipping mdadm --examine-bitmap");
        try {
            String x = run("mdadm", "--examine-bitmap", loop.toString());
            List<Map<String, String>> slots = slotSections(x);
            assertThat(slots).as(x).hasSize(4);
            for (int i = 0; i < 4; i++) {
                Map<String, String> s = slots.get(i);
                assertThat(s.get("Node Slot")).as(x).isEqualTo(String.valueOf(i));
                assertThat(s.get("Events")).as(x).isEqualTo(String.valueOf(100 + i));
                assertThat(s.get("Bitmap")).as(x).startsWith(layout.chunks() + " bits (chunks), " + (3 * i + 1) + " dirty");
            }
            assertThat(x).doesNotContain("invalid bitmap magic");
        } finally {
            LoopDevices.detach(loop);
        }
    }

    private static void writeBitmapSlots(BlockDevice leg, DiskLayout layout, Superblock sb) throws IOException {
        int stride = (int) layout.slotBytes();
        for (int i = 0; i < layout.nodes(); i++) {
            ByteBuffer b = AlignedBuffers.allocate(stride);
            TestBitmapSuperblocks.put(b, 0, sb.setUuid(), 100 + i, 0, layout.size(), (int) layout.bitmapChunkBytes(),
                    layout.nodes(), CLUSTER, 3 * i + 1);
            leg.write(layout.slotOffsetBytes(i), b);
        }
    }

    private static List<Map<String, String>> slotSections(String out) {
        List<Map<String, String>> res = new ArrayList<>();
        Map<String, String> cur = null;
        for (String line : out.split("\n")) {
            int c = line.indexOf(" : ");
            if (c <= 0) {
                continue;
            }
            String k = line.substring(0, c).trim();
            String v = line.substring(c + 3).trim();
            if (k.equals("Node Slot")) {
                cur = new LinkedHashMap<>();
                res.add(cur);
            }
            if (cur != null) {
                cur.put(k, v);
            }
        }
        return res;
    }
}
