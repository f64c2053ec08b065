package org.clustermd.raid1.sb;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.testkit.LoopDevice;
import org.clustermd.testkit.Mdadm;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * mdadm (the reference reader of the format) agrees with what we write: {@code mdadm --examine}
 * on a plain file, and {@code mdadm --examine-bitmap} on a loop device for the clustered bitmap
 * slots that {@link DiskLayout} places. Fails naming {@code apt-get install mdadm} when mdadm is not installed.
 */
class MdadmExamineAgreementTest {
    private static final String CLUSTER = "testcluster";

    @TempDir
    Path dir;

    @BeforeAll
    static void needMdadm() {
        Mdadm.binary();
    }

    private Path legFile(String name, long bytes) throws IOException {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(bytes);
        }
        return f;
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
        String out = Mdadm.examine(f);
        Map<String, String> fl = Mdadm.fields(out);
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
            assertThat(layout.slotBytes())
                    .as("a stride over one page exercises the formula")
                    .isEqualTo(12288);
            sb = Superblocks.raid1Member(layout, 0, true);
            SuperblockCodec.write(leg, sb);
            writeBitmapSlots(leg, layout, sb);
        }
        String out = Mdadm.examine(f);
        Map<String, String> fl = Mdadm.fields(out);
        assertCommonFields(fl, sb, out);
        assertThat(fl.get("Feature Map")).as(out).isEqualTo("0x101");
        assertThat(fl.get("Cluster Name")).as(out).isEqualTo(CLUSTER);
        assertThat(fl.get("Internal Bitmap")).as(out).isEqualTo("8 sectors from superblock");

        // the per-slot stride: mdadm finds every node's bitmap where DiskLayout put it
        try (LoopDevice loop = LoopDevice.attach(f)) {
            String x = Mdadm.examineBitmap(loop.path());
            List<Map<String, String>> slots = Mdadm.slotSections(x);
            assertThat(slots).as(x).hasSize(4);
            for (int i = 0; i < 4; i++) {
                Map<String, String> s = slots.get(i);
                assertThat(s.get("Node Slot")).as(x).isEqualTo(String.valueOf(i));
                assertThat(s.get("Events")).as(x).isEqualTo(String.valueOf(100 + i));
                assertThat(s.get("Bitmap"))
                        .as(x)
                        .startsWith(layout.chunks() + " bits (chunks), " + (3 * i + 1) + " dirty");
            }
            assertThat(x).doesNotContain("invalid bitmap magic");
        }
    }

    private static void writeBitmapSlots(BlockDevice leg, DiskLayout layout, Superblock sb) throws IOException {
        int stride = (int) layout.slotBytes();
        for (int i = 0; i < layout.nodes(); i++) {
            ByteBuffer b = AlignedBuffers.allocate(stride);
            TestBitmapSuperblocks.put(
                    b,
                    0,
                    sb.setUuid(),
                    100 + i,
                    0,
                    layout.size(),
                    (int) layout.bitmapChunkBytes(),
                    layout.nodes(),
                    CLUSTER,
                    3 * i + 1);
            leg.write(layout.slotOffsetBytes(i), b);
        }
    }
}
