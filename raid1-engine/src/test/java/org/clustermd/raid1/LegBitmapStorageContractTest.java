package org.clustermd.raid1;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
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
     * docs/lessons.md §57: the leg may hold a valid-looking header for a skipped slot from an
     * earlier life; the admission zeroes it, so that a node that never saw the admission finds
     * the gap at assembly instead of reading the stale slot.
     */
    @Test
    void anAdmissionZeroesTheHeaderOfASlotItSkipsAndCopiesNothingElseOfIt() throws Exception {
        long stride = 8192;
        long size = 3 * stride;
        Path oldFile = dir.resolve("lesson61-old");
        Path newFile = dir.resolve("lesson61-new");
        for (Path f : List.of(oldFile, newFile)) {
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(8192 + size);
                raf.seek(8192);
                byte[] area = new byte[(int) size];
                java.util.Arrays.fill(area, f == oldFile ? (byte) 0xAA : (byte) 0xBB);
                raf.write(area);
            }
        }
        BlockDevice oldDev = BlockDevices.open(oldFile);
        BlockDevice newDev = BlockDevices.open(newFile);
        devices.add(oldDev);
        devices.add(newDev);
        Mirror old = new Mirror(
                new Leg(oldDev, 0, UUID.randomUUID(), 0, 0), 0, MirrorState.IN_SYNC, false, Long.MAX_VALUE, 0);
        Leg fresh = new Leg(newDev, 1, UUID.randomUUID(), 0, 0);
        java.util.concurrent.atomic.AtomicReference<MirrorSet> set =
                new java.util.concurrent.atomic.AtomicReference<>(new MirrorSet(1, 2, List.of(old)));
        LegBitmapStorage storage = new LegBitmapStorage("lesson61", 8192, size, set::get, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });
        storage.admit(
                fresh,
                () -> set.set(
                        new MirrorSet(2, 2, List.of(old, new Mirror(fresh, 1, MirrorState.REBUILDING, false, 0, 0)))),
                stride,
                java.util.Set.of(1));
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192 + stride))
                .as("the skipped slot's header is zeroed")
                .isZero();
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192 + stride + 4095))
                .isZero();
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192 + stride + 4096))
                .as("the rest of the skipped slot is not copied")
                .isEqualTo((byte) 0xBB);
        org.assertj.core.api.Assertions.assertThat(fileByte(newFile, 8192))
                .as("the other slots are copied")
                .isEqualTo((byte) 0xAA);
    }

    private static byte fileByte(Path f, long offset) throws IOException {
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "r")) {
            raf.seek(offset);
            return raf.readByte();
        }
    }
}
