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
 * and never reads a page from a leg that is still being recovered (docs/lessons.md §12).
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
}
