package org.clustermd.raid1.io;

import java.io.RandomAccessFile;
import java.nio.file.Path;
import org.junit.jupiter.api.io.TempDir;

/** The contract on a plain file, O_DIRECT, default engine (AIO when libaio loads). */
public class FileBlockDeviceContractTest extends BlockDeviceContractTest {
    @TempDir
    Path dir;

    protected BlockDeviceOptions options() {
        return BlockDeviceOptions.defaults();
    }

    @Override
    protected BlockDevice openDevice(long size) throws Exception {
        Path f = dir.resolve("leg");
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return BlockDevices.open(f, options());
    }
}
