package org.clustermd.bitmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.clustermd.bitmap.Fixtures.sector;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;
import org.clustermd.bitmap.storage.FileBitmapStorage;
import org.clustermd.bitmap.testing.ManualClock;
import org.clustermd.testkit.Mdadm;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Files written by this module are read by Debian's {@code mdadm --examine-bitmap} with the
 * same uuid, chunk size, nodes, cluster name, events and dirty counts.
 *
 * <p>This is the plain-file form: mdadm treats a regular file as an external bitmap, reads
 * the header superblock at byte 0 and then, for a clustered bitmap, reads the node slots one
 * after another from where the previous read stopped, in 8 KiB units (checked on mdadm 4.2:
 * it does not seek to md's slot offsets in a file). So the several-slot case hands mdadm a
 * file with each slot's bytes, exactly as this module wrote them, in consecutive 8 KiB
 * frames. The slot offsets themselves are checked against the kernel's and mdadm's formulas in
 * {@link BitmapGeometryTest}; raid1-engine checks the device form on a loop device with a v1.2
 * superblock, where mdadm seeks to each slot.
 *
 * <p>mdadm must be installed: without it the test fails naming {@code apt-get install mdadm} ({@code bin/test}
 * installs it).
 */
class MdadmExamineBitmapTest {
    static final int FRAME = 8192;
    Path dir;
    final ManualClock clock = new ManualClock();

    @BeforeEach
    void dir() throws IOException {
        // a real file system, not tmpfs: mdadm opens the file with O_DIRECT
        Files.createDirectories(Path.of("target"));
        dir = Files.createTempDirectory(Path.of("target"), "mdadm-");
    }

    @AfterEach
    void clean() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        }
    }

    @Test
    void oneSlotUnclusteredBitmapFile() throws Exception {
        Path file = dir.resolve("bitmap.bin");
        UUID uuid = UUID.fromString("0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
        // 16379 chunks: the last byte holds 3 bits, so mdadm's count depends on the bit order
        BitmapSuperblock sb = BitmapSuperblock.unclustered(uuid, 16379L * 128, 64 * 1024);
        try (FileBitmapStorage storage = FileBitmapStorage.open(file, 0, 8192)) {
            BitmapArea.create(storage, sb, true);
            WriteIntentBitmap b = WriteIntentBitmap.open(storage, 0, Fixtures.manual(clock));
            b.updateSuperblock(42);
            for (long c : new long[] {0, 1, 2, 700, 16378}) b.startWrite(c * 128, 128);
            b.endWrite(700 * 128, 128, false);
            SlotSummary ours = BitmapArea.read(storage).examine(0);
            assertThat(ours.dirtyChunks()).isEqualTo(5);

            Examined x = mdadm(file);
            assertThat(x.uuid).isEqualTo(mdadmUuid(uuid));
            assertThat(x.chunksize).isEqualTo(humanChunksize(64 * 1024));
            assertThat(x.version).isEqualTo(4);
            assertThat(x.nodes).isZero();
            assertThat(x.headerEvents).isEqualTo(42);
            assertThat(x.headerBits).isEqualTo(16379);
            assertThat(x.headerDirty).isEqualTo(ours.dirtyChunks());
        }
    }

    @Test
    void severalSlotsOfAClusteredBitmap() throws Exception {
        Path area = dir.resolve("area.bin");
        UUID uuid = UUID.fromString("11223344-5566-7788-99aa-bbccddeeff00");
        BitmapSuperblock sb = BitmapSuperblock.clustered(uuid, 2 * 1024 * 1024, 64 * 1024, 4, "prodcluster");
        List<SlotSummary> ours;
        byte[] raw;
        try (FileBitmapStorage storage = FileBitmapStorage.open(area, 0, 4 * 4096)) {
            BitmapArea.create(storage, sb, false); // slot 0 all ones, as mdadm --create writes it
            WriteIntentBitmap s0 = WriteIntentBitmap.open(storage, 0, Fixtures.manual(clock));
            s0.updateSuperblock(5);
            WriteIntentBitmap s1 = WriteIntentBitmap.open(storage, 1, Fixtures.manual(clock));
            s1.updateSuperblock(7);
            for (long c : new long[] {3, 4, 5, 9000}) s1.startWrite(c * 128, 1);
            WriteIntentBitmap s2 = WriteIntentBitmap.open(storage, 2, Fixtures.manual(clock));
            s2.updateSuperblock(9);
            s2.startWrite(sector(0), 1);
            s2.endWrite(sector(0), 1, false);
            ours = BitmapArea.read(storage).examineAll();
            raw = Files.readAllBytes(area);
        }
        assertThat(ours).extracting(SlotSummary::dirtyChunks).containsExactly(16384L, 4L, 1L, 0L);

        // the area file as it is: mdadm's header is slot 0's superblock
        Examined whole = mdadm(area);
        assertThat(whole.uuid).isEqualTo(mdadmUuid(uuid));
        assertThat(whole.chunksize).isEqualTo(humanChunksize(64 * 1024));
        assertThat(whole.nodes).isEqualTo(4);
        assertThat(whole.clusterName).isEqualTo("prodcluster");
        assertThat(whole.version).isEqualTo(5);

        // every slot, each in its own 8 KiB frame, as mdadm 4.2 walks a plain file
        long stride = BitmapGeometry.of(sb).stride();
        byte[] framed = new byte[FRAME * 5];
        System.arraycopy(raw, 0, framed, 0, (int) stride);
        for (int i = 0; i < 4; i++) System.arraycopy(raw, (int) (i * stride), framed, FRAME * (i + 1), (int) stride);
        Path view = dir.resolve("slots.bin");
        Files.write(view, framed);
        Examined x = mdadm(view);
        System.out.println(x.text);
        assertThat(x.uuid).isEqualTo(mdadmUuid(uuid));
        assertThat(x.chunksize).isEqualTo(humanChunksize(64 * 1024));
        assertThat(x.nodes).isEqualTo(4);
        assertThat(x.clusterName).isEqualTo("prodcluster");
        assertThat(x.slots).hasSize(4);
        for (int i = 0; i < 4; i++) {
            Slot s = x.slots.get(i);
            SlotSummary o = ours.get(i);
            assertThat(s.slot).isEqualTo(i);
            assertThat(s.events)
                    .as("slot %d events", i)
                    .isEqualTo(o.superblock().events());
            assertThat(s.eventsCleared)
                    .as("slot %d events cleared", i)
                    .isEqualTo(o.superblock().eventsCleared());
            assertThat(s.bits).as("slot %d bits", i).isEqualTo(o.chunks());
            assertThat(s.dirty).as("slot %d dirty", i).isEqualTo(o.dirtyChunks());
        }
    }

    // ---- running and parsing mdadm

    record Slot(int slot, long events, long eventsCleared, long bits, long dirty) {}

    static final class Examined {
        String uuid;
        String chunksize;
        int version;
        int nodes;
        String clusterName;
        long headerEvents = -1;
        long headerBits = -1;
        long headerDirty = -1;
        final List<Slot> slots = new ArrayList<>();
        String text;
    }

    static Examined mdadm(Path file) throws Exception {
        String out = Mdadm.examineBitmap(file.toAbsolutePath());
        Examined x = new Examined();
        x.text = out;
        Map<String, String> header = Mdadm.header(out);
        x.uuid = header.get("UUID");
        x.version = Integer.parseInt(header.get("Version"));
        x.chunksize = header.get("Chunksize");
        if (header.containsKey("Cluster nodes")) x.nodes = Integer.parseInt(header.get("Cluster nodes"));
        x.clusterName = header.get("Cluster name");
        if (header.containsKey("Bitmap")) {
            Mdadm.BitmapCounts counts = Mdadm.bitmapCounts(header.get("Bitmap"));
            x.headerEvents = header.containsKey("Events") ? Long.parseLong(header.get("Events")) : -1;
            x.headerBits = counts.bits();
            x.headerDirty = counts.dirty();
        }
        for (Map<String, String> s : Mdadm.slotSections(out)) {
            Mdadm.BitmapCounts counts = Mdadm.bitmapCounts(s.get("Bitmap"));
            x.slots.add(new Slot(
                    Integer.parseInt(s.get("Node Slot")),
                    Long.parseLong(s.get("Events")),
                    Long.parseLong(s.get("Events Cleared")),
                    counts.bits(),
                    counts.dirty()));
        }
        return x;
    }

    /** How mdadm prints a bitmap UUID from a plain file on a little-endian host: bytes in order. */
    static String mdadmUuid(UUID uuid) {
        String hex = uuid.toString().replace("-", "");
        return hex.substring(0, 8) + ":" + hex.substring(8, 16) + ":" + hex.substring(16, 24) + ":" + hex.substring(24);
    }

    /** mdadm's human_chunksize. */
    static String humanChunksize(long bytes) {
        String[] suffixes = {"B", "KB", "MB", "GB", "TB"};
        int i = 0;
        while ((bytes >> 10) != 0) {
            bytes >>= 10;
            i++;
        }
        return String.format(Locale.ROOT, "%d %s", bytes, suffixes[i]);
    }
}
