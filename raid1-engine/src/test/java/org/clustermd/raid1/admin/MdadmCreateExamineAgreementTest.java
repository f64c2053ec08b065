package org.clustermd.raid1.admin;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.clustermd.testkit.LoopDevice;
import org.clustermd.testkit.Mdadm;
import org.clustermd.testkit.Tools;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What {@link ArrayCreator} writes, {@link Examiner} reports and mdadm 4.2 reads agree:
 * {@code mdadm --examine LEG} on the files and {@code mdadm --examine-bitmap} on a loop device
 * (mdadm treats a plain file as an external bitmap), for a clustered bitmap with one and with
 * several slots, an internal bitmap, spares, and with and without {@code --assume-clean}.
 */
class MdadmCreateExamineAgreementTest {
    @TempDir
    Path dir;

    @BeforeAll
    static void needMdadm() {
        Mdadm.binary();
    }

    private List<Path> legs(int n, long bytes) throws Exception {
        List<Path> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path f = dir.resolve("leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(bytes);
            }
            out.add(f);
        }
        return out;
    }

    private static void agreeWithMdadmExamine(ExamineReport r, Path leg) throws Exception {
        String out = Mdadm.examine(leg);
        Map<String, String> f = Mdadm.fields(out);
        assertThat(f.get("Magic")).as(out).isEqualTo("a92b4efc");
        assertThat(f.get("Version")).as(out).isEqualTo("1.2");
        assertThat(f.get("Array UUID"))
                .as(out)
                .isEqualTo(SuperblockCodec.mdadmUuid(r.superblock().setUuid()));
        assertThat(f.get("Name")).as(out).startsWith(r.superblock().setName());
        assertThat(f.get("Raid Level")).as(out).isEqualTo("raid1");
        assertThat(f.get("Raid Devices"))
                .as(out)
                .isEqualTo(String.valueOf(r.superblock().raidDisks()));
        assertThat(f.get("Events"))
                .as(out)
                .isEqualTo(String.valueOf(r.superblock().events()));
        assertThat(f.get("Device Role")).as(out).isEqualTo(r.deviceRole().equals("spare") ? "spare" : r.deviceRole());
        assertThat(f.get("Array State")).as(out).startsWith(r.arrayState() + " ");
        assertThat(f.get("Device UUID"))
                .as(out)
                .isEqualTo(SuperblockCodec.mdadmUuid(r.superblock().deviceUuid()));
        assertThat(f.get("Data Offset")).as(out).isEqualTo(r.superblock().dataOffset() + " sectors");
        assertThat(f.get("Checksum")).as(out).endsWith("correct");
        assertThat(f.get("State")).as(out).isEqualTo(r.superblock().resyncOffset() == -1 ? "clean" : "active");
        r.bitmap().ifPresent(b -> {
            assertThat(f.get("Internal Bitmap")).as(out).isEqualTo("8 sectors from superblock");
            if (b.nodes() > 0) assertThat(f.get("Cluster Name")).as(out).isEqualTo(b.clusterName());
        });
    }

    private static void agreeWithMdadmExamineBitmap(ExamineReport r, Path leg) throws Exception {
        BitmapReport b = r.bitmap().orElseThrow();
        try (LoopDevice loop = LoopDevice.attach(leg)) {
            String out = Mdadm.examineBitmap(loop.path());
            assertThat(out).doesNotContain("invalid");
            Map<String, String> top = Mdadm.fields(out);
            assertThat(top.get("UUID")).as(out).isEqualTo(SuperblockCodec.mdadmUuid(b.uuid()));
            assertThat(top.get("Chunksize")).as(out).isEqualTo(mdadmSize(b.chunksize()));
            assertThat(top.get("Version")).as(out).isEqualTo(String.valueOf(b.version()));
            if (b.nodes() > 0) {
                assertThat(top.get("Cluster nodes")).as(out).isEqualTo(String.valueOf(b.nodes()));
                assertThat(top.get("Cluster name")).as(out).isEqualTo(b.clusterName());
                List<Map<String, String>> slots = Mdadm.slotSections(out);
                assertThat(slots).as(out).hasSize(b.nodes());
                for (SlotReport s : b.slots()) {
                    Map<String, String> m = slots.get(s.slot());
                    assertThat(m.get("Node Slot")).as(out).isEqualTo(String.valueOf(s.slot()));
                    assertThat(m.get("Events")).as(out).isEqualTo(String.valueOf(s.events()));
                    assertThat(m.get("Bitmap"))
                            .as(out)
                            .startsWith(s.chunks() + " bits (chunks), " + s.dirty() + " dirty");
                }
            } else {
                SlotReport s = b.slots().get(0);
                assertThat(top.get("Events")).as(out).isEqualTo(String.valueOf(s.events()));
                assertThat(top.get("Bitmap"))
                        .as(out)
                        .startsWith(s.chunks() + " bits (chunks), " + s.dirty() + " dirty");
            }
        }
    }

    /** mdadm's human_chunksize: "64 MB", "4 KB", "512 B". */
    private static String mdadmSize(long bytes) {
        String[] units = {"B", "KB", "MB", "GB"};
        int u = 0;
        while (bytes >= 1024 && bytes % 1024 == 0 && u < 3) {
            bytes /= 1024;
            u++;
        }
        return bytes + " " + units[u];
    }

    private static void jsonAgrees(ExamineReport r) throws Exception {
        assertThat(Tools.have("jq"))
                .as("jq is not installed: apt-get install jq (bin/test installs it)")
                .isTrue();
        String json = new ObjectMapper().writeValueAsString(r.fields());
        assertThat(Tools.run(json, "jq", "-r", ".set_uuid").trim())
                .isEqualTo(SuperblockCodec.mdadmUuid(r.superblock().setUuid()));
        assertThat(Tools.run(json, "jq", "-r", ".raid_disks").trim())
                .isEqualTo(String.valueOf(r.superblock().raidDisks()));
        assertThat(Tools.run(json, "jq", "-r", ".events").trim())
                .isEqualTo(String.valueOf(r.superblock().events()));
        if (r.bitmap().isPresent()) {
            BitmapReport b = r.bitmap().get();
            assertThat(Tools.run(json, "jq", "-r", ".bitmap.nodes").trim()).isEqualTo(String.valueOf(b.nodes()));
            assertThat(Tools.run(json, "jq", "-r", ".bitmap.cluster_name").trim())
                    .isEqualTo(b.clusterName());
            assertThat(Tools.run(json, "jq", "-r", "[.bitmap.slots[].dirty] | add")
                            .trim())
                    .isEqualTo(String.valueOf(
                            b.slots().stream().mapToLong(SlotReport::dirty).sum()));
        }
    }

    @Test
    void clusteredBitmapWithFourSlotsAndAnInitialResync() throws Exception {
        List<Path> legs = legs(2, 96L << 20);
        CreateResult c = ArrayCreator.create(
                CreateOptions.builder("md-four")
                        .clusterName("alpha")
                        .nodes(4)
                        .bitmapChunk(1 << 20)
                        .build(),
                legs);
        for (int i = 0; i < 2; i++) {
            ExamineReport r = Examiner.examine(legs.get(i));
            assertThat(r.superblock()).isEqualTo(c.superblocks().get(i));
            assertThat(r.deviceRole()).isEqualTo("Active device " + i);
            assertThat(r.arrayState()).isEqualTo("AA");
            BitmapReport b = r.bitmap().orElseThrow();
            assertThat(b.nodes()).isEqualTo(4);
            assertThat(b.slots()).hasSize(4);
            assertThat(b.slots().get(0).dirty())
                    .as("slot 0 makes the first assembler resync")
                    .isEqualTo(b.slots().get(0).chunks());
            assertThat(b.slots().get(1).dirty()).isZero();
            agreeWithMdadmExamine(r, legs.get(i));
            jsonAgrees(r);
        }
        agreeWithMdadmExamineBitmap(Examiner.examine(legs.get(1)), legs.get(1));
    }

    @Test
    void clusteredBitmapWithOneSlotAssumeCleanAndASpare() throws Exception {
        List<Path> legs = legs(3, 64L << 20);
        ArrayCreator.create(
                CreateOptions.builder("md-one")
                        .clusterName("beta")
                        .nodes(1)
                        .raidDevices(2)
                        .spareDevices(1)
                        .assumeClean(true)
                        .bitmapChunk(64 << 10)
                        .build(),
                legs);
        ExamineReport spare = Examiner.examine(legs.get(2));
        assertThat(spare.deviceRole()).isEqualTo("spare");
        assertThat(spare.arrayState()).isEqualTo("AA");
        assertThat(spare.bitmap().orElseThrow().slots())
                .singleElement()
                .satisfies(s -> assertThat(s.dirty()).isZero());
        for (Path leg : legs) agreeWithMdadmExamine(Examiner.examine(leg), leg);
        agreeWithMdadmExamineBitmap(Examiner.examine(legs.get(0)), legs.get(0));
        jsonAgrees(spare);
    }

    @Test
    void internalBitmap() throws Exception {
        List<Path> legs = legs(2, 64L << 20);
        ArrayCreator.create(
                CreateOptions.builder("md-int")
                        .bitmap(BitmapMode.INTERNAL)
                        .bitmapChunk(4 << 20)
                        .build(),
                legs);
        ExamineReport r = Examiner.examine(legs.get(0));
        assertThat(r.bitmap().orElseThrow().nodes()).isZero();
        agreeWithMdadmExamine(r, legs.get(0));
        agreeWithMdadmExamineBitmap(r, legs.get(0));
        assertThat(r.toText()).contains("Internal Bitmap : 8 sectors from superblock");
    }

    @Test
    void noBitmap() throws Exception {
        List<Path> legs = legs(2, 16L << 20);
        ArrayCreator.create(
                CreateOptions.builder("md-none")
                        .bitmap(BitmapMode.NONE)
                        .assumeClean(true)
                        .build(),
                legs);
        ExamineReport r = Examiner.examine(legs.get(1));
        assertThat(r.bitmap()).isEmpty();
        agreeWithMdadmExamine(r, legs.get(1));
        assertThat(r.fields()).containsEntry("bitmap", null);
    }
}
