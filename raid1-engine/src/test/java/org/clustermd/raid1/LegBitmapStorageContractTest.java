package org.clustermd.raid1;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.clustermd.bitmap.storage.BitmapStorage;
import org.clustermd.bitmap.storage.BitmapStorageContractTest;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDevices;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;

/** The array's bitmap storage over two in-sync legs keeps the bitmap module's storage contract. */
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
            ms.add(new Mirror(new Leg(d, i, UUID.randomUUID(), 0, 0), i, MirrorState.IN_SYNC, false, Long.MAX_VALUE, 0));
        }
        MirrorSet set = new MirrorSet(1, 2, ms);
        return new LegBitmapStorage("contract", 8192, size, () -> set, (m, e) -> {
            throw new AssertionError("no leg should fail here: " + m, e);
        });
    }
}
