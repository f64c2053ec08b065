package org.clustermd.bitmap.storage;

import org.clustermd.bitmap.testing.MemoryBitmapStorage;

/** The in-memory fake keeps the same contract as the real storages it stands in for. */
class MemoryBitmapStorageTest extends BitmapStorageContractTest {
    @Override
    protected BitmapStorage createStorage(long size) {
        return new MemoryBitmapStorage("mem", size);
    }
}
