package org.clustermd.raid1;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clustermd.bitmap.BitmapGeometry;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.BitmapStorageContractTest;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The array's bitmap storage over two in-sync legs keeps the bitmap module's storage contract,
 * never reads a page from a leg that is still being recovered (docs/lessons.md §12), and reads a
 * slot a leg was admitted without from a leg that holds it until it is filled in
 * (docs/lessons.md §57).
 */
class LegBitmapStorageContractTest extends BitmapStorageContractTest {
    @TempDir
    Path dir;

    private final List<BlockDevice> devices = new ArrayList<>();

    @AfterEach
    void closeLegs() throws IOException {
        for (BlockDevice d : devices) d.close();
    }

    @Override
    protected BitmapStorage createStorage(long size) throws Exception {
        List<Mirror> ms = new ArrayList<>();
        for (int i = 0; i < 2; i++) {
            Path f = dir.resolve("leg" + devices.size());
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(8192 + size);
            }
            BlockDevice d = BlockDevices.open(f);
            devices.add(d);
            ms.add(new Mirror(
                    new Leg(d, i, UUID.randomUUID(), 0, 0), i, MirrorState.IN_SYNC, false, Long.MAX_VALUE, 0));
        }
        MirrorSet set = new MirrorSet(1, 2, ms);
        return new LegBitmapStorage("contract", 8192, size, () -> set, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });
    }

    /**
     * docs/lessons.md §12: md-cluster read a dead node's bitmap from whichever leg came first, once a leg
     * that was still being recovered, and got stale bits (so chunks that needed a resync looked
     * clean). The recovering leg comes first here and holds other bytes; reads must come from
     * the in-sync leg, and with no in-sync leg left they must fail rather than fall back.
     */
    @Test
    void lesson12ABitmapPageIsNeverReadFromALegStillBeingRecovered() throws Exception {
        long size = 8192;
        List<Mirror> ms = new ArrayList<>();
        MirrorState[] states = {MirrorState.REBUILDING, MirrorState.IN_SYNC};
        byte[] fill = {0x55, (byte) 0xAA};
        for (int i = 0; i < 2; i++) {
            Path f = dir.resolve("lesson12-leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(8192 + size);
                raf.seek(8192);
                byte[] page = new byte[(int) size];
                java.util.Arrays.fill(page, fill[i]);
                raf.write(page);
            }
            BlockDevice d = BlockDevices.open(f);
            devices.add(d);
            long recoveryOffset = states[i] == MirrorState.REBUILDING ? 0 : Long.MAX_VALUE;
            ms.add(new Mirror(new Leg(d, i, UUID.randomUUID(), 0, 0), i, states[i], false, recoveryOffset, 0));
        }
        java.util.concurrent.atomic.AtomicReference<MirrorSet> set =
                new java.util.concurrent.atomic.AtomicReference<>(new MirrorSet(1, 2, ms));
        LegBitmapStorage storage = new LegBitmapStorage("lesson12", 8192, size, set::get, (m, e) -> {});

        ByteBuffer page = AlignedBuffers.allocate((int) size);
        storage.read(0, page);
        for (int i = 0; i < size; i++) {
            org.assertj.core.api.Assertions.assertThat(page.get(i))
                    .as("byte %d", i)
                    .isEqualTo((byte) 0xAA);
        }

        // the in-sync leg is gone: no fallback to the recovering one
        set.set(new MirrorSet(2, 2, List.of(ms.get(0))));
        ByteBuffer again = AlignedBuffers.allocate((int) size);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> storage.read(0, again))
                .isInstanceOf(IOException.class);
    }

    /**
     * docs/lessons.md §57: a leg admitted without a live peer's slot lacks it until that peer
     * copies it, which this node cannot see. Once the leg is in sync with the lowest role, reads
     * of that slot still come from a leg that holds it; when the slot's owner is gone the slot is
     * copied onto the leg, once.
     */
    @Test
    void aSlotSkippedAtAdmissionIsReadFromALegThatHoldsItUntilItIsFilledIn() throws Exception {
        long stride = 4096;
        long size = 3 * stride;
        Path oldFile = dir.resolve("lesson56-old");
        try (RandomAccessFile raf = new RandomAccessFile(oldFile.toFile(), "rw")) {
            raf.setLength(8192 + size);
            raf.seek(8192);
            byte[] area = new byte[(int) size];
            java.util.Arrays.fill(area, (byte) 0xAA);
            raf.write(area);
        }
        Path newFile = dir.resolve("lesson56-new");
        try (RandomAccessFile raf = new RandomAccessFile(newFile.toFile(), "rw")) {
            raf.setLength(8192 + size);
        }
        BlockDevice oldDev = BlockDevices.open(oldFile);
        BlockDevice newDev = BlockDevices.open(newFile);
        devices.add(oldDev);
        devices.add(newDev);
        Mirror old = new Mirror(
                new Leg(oldDev, 0, UUID.randomUUID(), 0, 0), 1, MirrorState.IN_SYNC, false, Long.MAX_VALUE, 0);
        Leg fresh = new Leg(newDev, 1, UUID.randomUUID(), 0, 0);
        java.util.concurrent.atomic.AtomicReference<MirrorSet> set =
                new java.util.concurrent.atomic.AtomicReference<>(new MirrorSet(1, 2, List.of(old)));
        LegBitmapStorage storage = new LegBitmapStorage("lesson56", 8192, size, set::get, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });

        storage.admit(
                fresh,
                () -> set.set(new MirrorSet(
                        2, 2, List.of(old, new Mirror(fresh, 0, MirrorState.IN_SYNC, false, Long.MAX_VALUE, 0)))),
                stride,
                java.util.Set.of(1));
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192 + stride))
                .as("the skipped slot is not copied")
                .isZero();
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192 + 2 * stride))
                .isEqualTo((byte) 0xAA);

        ByteBuffer slot1 = AlignedBuffers.allocate((int) stride);
        storage.read(stride, slot1);
        org.assertj.core.api.Assertions.assertThat(slot1.get(0))
                .as("slot 1 is read from the leg that holds it, not the lowest role")
                .isEqualTo((byte) 0xAA);

        org.assertj.core.api.Assertions.assertThat(storage.fillSkipped(1)).containsExactly(newDev.name());
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192 + stride))
                .isEqualTo((byte) 0xAA);
        org.assertj.core.api.Assertions.assertThat(storage.fillSkipped(1)).isEmpty();
    }

    /**
     * docs/lessons.md §57: a node that never saw an admission learns its gaps from the headers.
     * The role-0 leg holds an older slot 1 (an earlier life's) and no slot 2 at all (zeros);
     * slot 1 and 2 are then read from the other leg, and a fill copies them over. The headers
     * here are a stand-in the test decodes itself: the first byte is the events, 0 is no header.
     */
    @Test
    void gapsAreLearnedFromOlderOrMissingSlotHeadersAndReadAroundUntilFilled() throws Exception {
        long stride = 4096;
        long size = 3 * stride;
        Path stale = dir.resolve("lesson57-stale");
        Path good = dir.resolve("lesson57-good");
        writeArea(stale, new byte[] {9, 5, 0});
        writeArea(good, new byte[] {9, 9, 9});
        BlockDevice staleDev = BlockDevices.open(stale);
        BlockDevice goodDev = BlockDevices.open(good);
        devices.add(staleDev);
        devices.add(goodDev);
        List<Mirror> legs = List.of(
                new Mirror(
                        new Leg(staleDev, 0, UUID.randomUUID(), 0, 0),
                        0,
                        MirrorState.IN_SYNC,
                        false,
                        Long.MAX_VALUE,
                        0),
                new Mirror(
                        new Leg(goodDev, 1, UUID.randomUUID(), 0, 0),
                        1,
                        MirrorState.IN_SYNC,
                        false,
                        Long.MAX_VALUE,
                        0));
        MirrorSet set = new MirrorSet(2, 2, legs);
        LegBitmapStorage storage = new LegBitmapStorage("lesson57", 8192, size, () -> set, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });
        BitmapGeometry g = new BitmapGeometry(8, 4096, 3); // one page per slot
        org.assertj.core.api.Assertions.assertThat(g.stride()).isEqualTo(stride);
        java.util.Map<String, java.util.Set<Integer>> gaps =
                storage.learnGaps(page -> page.get(0) == 0 ? null : new LegBitmapStorage.SlotHeader(g, page.get(0)));
        org.assertj.core.api.Assertions.assertThat(gaps)
                .isEqualTo(java.util.Map.of(staleDev.name(), java.util.Set.of(1, 2)));

        ByteBuffer slot1 = AlignedBuffers.allocate((int) stride);
        storage.read(stride, slot1);
        org.assertj.core.api.Assertions.assertThat(slot1.get(0))
                .as("slot 1 is read from the leg with the newer header, not the lowest role")
                .isEqualTo((byte) 9);
        org.assertj.core.api.Assertions.assertThat(storage.fillSkipped(1)).containsExactly(staleDev.name());
        org.assertj.core.api.Assertions.assertThat(storage.fillSkipped(2)).containsExactly(staleDev.name());
        org.assertj.core.api.Assertions.assertThat(fileByte(stale, 8192 + stride))
                .isEqualTo((byte) 9);
        org.assertj.core.api.Assertions.assertThat(fileByte(stale, 8192 + 2 * stride))
                .isEqualTo((byte) 9);
    }

    /**
     * docs/lessons.md §64: a device coming back holds an earlier life's slot 0 with the same
     * events as the in-sync leg's (9), which is no gap until its header is cleared; the clear
     * writes only the headers of this array (here 9: 7 stands for another array's, 0 for none),
     * and then every slot of it is learned as a gap.
     */
    @Test
    void aReturningDevicesHeadersOfThisArrayAreClearedSoAnEarlierLifeWithEqualEventsIsAGap() throws Exception {
        long stride = 4096;
        Path returning = dir.resolve("lesson64-returning");
        Path good = dir.resolve("lesson64-good");
        writeArea(returning, new byte[] {9, 7, 0});
        writeArea(good, new byte[] {9, 9, 9});
        BlockDevice returningDev = BlockDevices.open(returning);
        BlockDevice goodDev = BlockDevices.open(good);
        devices.add(returningDev);
        devices.add(goodDev);
        MirrorSet set = new MirrorSet(
                2,
                2,
                List.of(
                        new Mirror(
                                new Leg(returningDev, 0, UUID.randomUUID(), 0, 0),
                                0,
                                MirrorState.IN_SYNC,
                                false,
                                Long.MAX_VALUE,
                                0),
                        new Mirror(
                                new Leg(goodDev, 1, UUID.randomUUID(), 0, 0),
                                1,
                                MirrorState.IN_SYNC,
                                false,
                                Long.MAX_VALUE,
                                0)));
        BitmapGeometry g = new BitmapGeometry(8, 4096, 3);
        java.util.function.Function<ByteBuffer, LegBitmapStorage.SlotHeader> decode =
                page -> page.get(0) == 9 ? new LegBitmapStorage.SlotHeader(g, 9) : null;
        LegBitmapStorage before = new LegBitmapStorage("lesson64", 8192, 3 * stride, () -> set, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });
        org.assertj.core.api.Assertions.assertThat(before.learnGaps(decode))
                .as("an earlier life with the newest events passes for current")
                .isEqualTo(java.util.Map.of(returningDev.name(), java.util.Set.of(1, 2)));

        org.assertj.core.api.Assertions.assertThat(before.clearSlotHeaders(returningDev, stride, 3, decode))
                .containsExactly(0);
        org.assertj.core.api.Assertions.assertThat(fileByte(returning, 8192)).isZero();
        org.assertj.core.api.Assertions.assertThat(fileByte(returning, 8192 + stride))
                .as("another array's header is left alone")
                .isEqualTo((byte) 7);

        LegBitmapStorage after = new LegBitmapStorage("lesson64", 8192, 3 * stride, () -> set, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });
        org.assertj.core.api.Assertions.assertThat(after.learnGaps(decode))
                .isEqualTo(java.util.Map.of(returningDev.name(), java.util.Set.of(0, 1, 2)));
    }

    /** A 3-slot area at 8192 whose slot {@code i} is filled with {@code first[i]}. */
    private static void writeArea(Path f, byte[] first) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(8192 + 3 * 4096L);
            for (int i = 0; i < first.length; i++) {
                byte[] page = new byte[4096];
                java.util.Arrays.fill(page, first[i]);
                raf.seek(8192 + i * 4096L);
                raf.write(page);
            }
        }
    }

    private static byte fileByte(Path f, long offset) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
            raf.seek(offset);
            return raf.readByte();
        }
    }
}
