package org.clustermd.raid1.io;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a loop device (a real block device: BLKGETSIZE64, BLKSSZGET); skipped when none can be attached. */
class LoopBlockDeviceContractTest extends BlockDeviceContractTest {
    @TempDir
    Path dir;

    private Path loop;

    @Override
    protected BlockDevice openDevice(long size) throws Exception {
        Path f = dir.resolve("backing");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        loop = LoopDevices.attach(f);
        Assumptions.assumeTrue(loop != null, "no loop device can be attached here (needs root and /dev/loop-control)");
        return BlockDevices.open(loop);
    }

    @Override
    protected void release() {
        LoopDevices.detach(loop);
        loop = null;
    }
}
