package org.clustermd.raid1.io;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import org.clustermd.testkit.LoopDevice;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a loop device (a real block device: BLKGETSIZE64, BLKSSZGET); skipped when the tests do not run as root. */
class LoopBlockDeviceContractTest extends BlockDeviceContractTest {
    @TempDir
    Path dir;

    private LoopDevice loop;

    @Override
    protected BlockDevice openDevice(long size) throws Exception {
        Path f = dir.resolve("backing");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        loop = LoopDevice.attach(f);
        return BlockDevices.open(loop.path());
    }

    @Override
    protected void release() {
        if (loop != null) loop.close();
        loop = null;
    }
}
