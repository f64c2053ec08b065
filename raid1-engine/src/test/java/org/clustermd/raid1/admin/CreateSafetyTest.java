package org.clustermd.raid1.admin;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.fault.FaultInjectingBlockDevice;
import org.clustermd.raid1.sb.SuperblockFormatException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ArrayCreator} never leaves a create half done (issue 9 item 3) and {@link LegIdentity}
 * catches one file given twice under another name (item 4), on real files.
 */
class CreateSafetyTest {
    @TempDir
    Path dir;

    private Path file(String name) throws Exception {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(24L << 20);
        }
        return f;
    }

    private static CreateOptions options() {
        return CreateOptions.builder("md0")
                .clusterName("c1")
                .nodes(2)
                .bitmapChunk(1 << 20)
                .assumeClean(true)
                .build();
    }

    @Test
    void aLegThatRefusesWritesLeavesEveryOtherLegAsItWas() throws Exception {
        Path p0 = file("l0");
        Path p1 = file("l1");
        Path p2 = file("l2");
        UUID old = ArrayCreator.create(options(), List.of(p0, p2)).uuid();
        byte[] before = Files.readAllBytes(p0);
        List<BlockDevice> legs = new ArrayList<>();
        try {
            legs.add(BlockDevices.open(p0));
            FaultInjectingBlockDevice readOnly = new FaultInjectingBlockDevice(BlockDevices.open(p1));
            readOnly.failAllWrites(true);
            legs.add(readOnly);
            assertThatThrownBy(() -> ArrayCreator.createOn(options(), legs))
                    .isInstanceOfSatisfying(
                            Raid1Exception.class,
                            e -> assertThat(e.getMessage()).contains("nothing was written"));
        } finally {
            for (BlockDevice d : legs) d.close();
        }
        assertThat(Files.readAllBytes(p0))
                .as("the first leg keeps its old array, byte for byte")
                .isEqualTo(before);
        assertThat(Examiner.examine(p0).superblock().setUuid()).isEqualTo(old);
        assertThatThrownBy(() -> Examiner.examine(p1)).isInstanceOf(SuperblockFormatException.class);
    }

    @Test
    void oneFileUnderTwoNamesIsOneLeg() throws Exception {
        Path l0 = file("l0");
        Path l1 = file("l1");
        Path link = Files.createSymbolicLink(dir.resolve("link"), l0);
        Path hard = Files.createLink(dir.resolve("hard"), l0);
        for (List<Path> same : List.of(
                List.of(l0, l0),
                List.of(l0, dir.resolve(".").resolve("l0")),
                List.of(link, l1, l0),
                List.of(l0, hard))) {
            assertThatThrownBy(() -> LegIdentity.requireDistinct(same))
                    .as(same.toString())
                    .isInstanceOf(Raid1Exception.class)
                    .hasMessageContaining("are the same leg");
            assertThatThrownBy(() -> ArrayCreator.create(options(), same)).isInstanceOf(Raid1Exception.class);
        }
        LegIdentity.requireDistinct(List.of(l0, l1, dir.resolve("missing")));
        assertThatThrownBy(() -> Examiner.examine(l0))
                .as("no create reached the disk")
                .isInstanceOf(SuperblockFormatException.class);
    }
}
