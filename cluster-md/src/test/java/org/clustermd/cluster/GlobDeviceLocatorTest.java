package org.clustermd.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.sb.Superblock;
import org.clustermd.raid1.sb.SuperblockCodec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link GlobDeviceLocator} on real files carrying md superblocks (created by ArrayCreator). */
class GlobDeviceLocatorTest {
    @TempDir
    Path dir;

    @Test
    void findsTheFileWhoseSuperblockCarriesTheArrayAndDeviceUuidAndNothingElse() throws Exception {
        Path sub = Files.createDirectories(dir.resolve("luns"));
        List<Path> legs = List.of(file(sub.resolve("lun-a")), file(sub.resolve("lun-b")));
        file(sub.resolve("lun-empty"));
        Files.createDirectories(sub.resolve("lun-dir"));
        file(Files.createDirectories(sub.resolve("deeper")).resolve("lun-c"));
        CreateResult created = ArrayCreator.create(
                CreateOptions.builder("md0")
                        .clusterName("c1")
                        .nodes(2)
                        .bitmapChunk(1 << 20)
                        .assumeClean(true)
                        .build(),
                legs);
        UUID array = created.uuid();
        Superblock b = read(legs.get(1));
        GlobDeviceLocator scan =
                new GlobDeviceLocator(List.of(sub.resolve("lun-*").toString()));

        assertThat(scan.locate(array, b.deviceUuid())).contains(legs.get(1));
        assertThat(scan.locate(array, UUID.randomUUID())).as("no such device").isEmpty();
        assertThat(scan.locate(UUID.randomUUID(), b.deviceUuid()))
                .as("the device of another array")
                .isEmpty();
        assertThat(new GlobDeviceLocator(List.of(dir.resolve("*").toString())).locate(array, b.deviceUuid()))
                .as("one component deep only")
                .isEmpty();
        assertThat(new GlobDeviceLocator(List.of(dir.resolve("nowhere/*").toString())).locate(array, b.deviceUuid()))
                .isEmpty();
        assertThat(new GlobDeviceLocator(List.of(legs.get(1).toString())).locate(array, b.deviceUuid()))
                .as("a plain path")
                .contains(legs.get(1));
        assertThat(GlobDeviceLocator.expand(sub.resolve("lun-?").toString())).containsExactlyElementsOf(legs);
        assertThat(GlobDeviceLocator.expand(sub.resolve("lun-x?").toString())).isEmpty();
        assertThat(GlobDeviceLocator.expand(sub.resolve("lun-[ab]").toString())).containsExactlyElementsOf(legs);
    }

    private static Path file(Path f) throws Exception {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(24L << 20);
        }
        return f;
    }

    private static Superblock read(Path leg) throws Exception {
        try (BlockDevice d = BlockDevices.open(leg)) {
            return SuperblockCodec.read(d);
        }
    }
}
