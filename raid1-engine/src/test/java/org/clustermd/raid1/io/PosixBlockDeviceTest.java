package org.clustermd.raid1.io;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.clustermd.raid1.io.BlockDeviceException.Code;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Opening: size discovery, the errors for missing/too-small/odd devices, engine choice. */
class PosixBlockDeviceTest {
    @TempDir
    Path dir;

    private Path file(String name, long size) throws Exception {
        Path f = dir.resolve(name);
        try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
            raf.setLength(size);
        }
        return f;
    }

    private static void assertCode(BlockDeviceException e, Code code) {
        assertThat(e.code()).isEqualTo(code);
    }

    @Test
    void missingFileFailsToOpenNamingThePath() {
        Path f = dir.resolve("nope");
        assertThatThrownBy(() -> BlockDevices.open(f))
                .isInstanceOfSatisfying(BlockDeviceException.class, e -> assertCode(e, Code.OPEN_FAILED))
                .hasMessageContaining(f.toString())
                .hasMessageContaining("No such file");
    }

    @Test
    void directoryIsNotADevice() {
        assertThatThrownBy(() ->
                        BlockDevices.open(dir, BlockDeviceOptions.defaults().withReadOnly(true)))
                .isInstanceOfSatisfying(BlockDeviceException.class, e -> assertCode(e, Code.OPEN_FAILED));
    }

    @Test
    void deviceSmallerThanRequiredIsRefused() throws Exception {
        Path f = file("small", 1 << 20);
        assertThatThrownBy(
                        () -> BlockDevices.open(f, BlockDeviceOptions.defaults().withMinimumSize(2 << 20)))
                .isInstanceOfSatisfying(BlockDeviceException.class, e -> assertCode(e, Code.DEVICE_TOO_SMALL))
                .hasMessageContaining(f.toString())
                .hasMessageContaining("1048576 bytes usable, at least 2097152 needed");
        try (BlockDevice d = BlockDevices.open(f, BlockDeviceOptions.defaults().withMinimumSize(1 << 20))) {
            assertThat(d.size()).isEqualTo(1 << 20);
        }
    }

    @Test
    void partialLastBlockIsNotAddressable() throws Exception {
        Path f = file("odd", (1 << 20) + 1000);
        try (BlockDevice d = BlockDevices.open(f)) {
            assertThat(d.size()).isEqualTo(1 << 20);
        }
    }

    @Test
    void readOnlyDeviceRefusesWritesAndFlushes() throws Exception {
        Path f = file("ro", 1 << 20);
        try (BlockDevice d = BlockDevices.open(f, BlockDeviceOptions.defaults().withReadOnly(true))) {
            d.read(0, AlignedBuffers.allocate(4096));
            assertThatThrownBy(() -> d.write(0, AlignedBuffers.allocate(4096)))
                    .isInstanceOfSatisfying(BlockDeviceException.class, e -> assertCode(e, Code.READ_ONLY));
            assertThatThrownBy(d::flush)
                    .isInstanceOfSatisfying(BlockDeviceException.class, e -> assertCode(e, Code.READ_ONLY));
        }
    }

    @Test
    void defaultEngineIsAioWhenLibaioLoads() throws Exception {
        Path f = file("eng", 1 << 20);
        try (BlockDevice d = BlockDevices.open(f)) {
            IoEngine expected = BlockDevices.aioAvailable() ? IoEngine.AIO : IoEngine.THREADS;
            assertThat(((PosixBlockDevice) d).engine()).isEqualTo(expected);
        }
        try (BlockDevice d = BlockDevices.open(f, BlockDeviceOptions.defaults().withDirect(false))) {
            assertThat(((PosixBlockDevice) d).engine()).isEqualTo(IoEngine.THREADS);
        }
    }

    @Test
    void bufferedModeWorksOnTmpfs() throws Exception {
        // tmpfs refused O_DIRECT before Linux 6.6; buffered mode is the way to use such file systems
        Path shm = Path.of("/dev/shm");
        Assumptions.assumeTrue(Files.isDirectory(shm) && Files.isWritable(shm), "no /dev/shm here");
        Path f = Files.createTempFile(shm, "clustermd-test", ".leg");
        try {
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(1 << 20);
            }
            try (BlockDevice d =
                    BlockDevices.open(f, BlockDeviceOptions.defaults().withDirect(false))) {
                ByteBuffer b = AlignedBuffers.allocate(4096);
                b.put(0, (byte) 7);
                d.write(4096, b);
                d.flush();
                ByteBuffer r = AlignedBuffers.allocate(4096);
                d.read(4096, r);
                assertThat(r.get(0)).isEqualTo((byte) 7);
            }
        } finally {
            Files.deleteIfExists(f);
        }
    }

    @Test
    void alignedBuffersAreAlignedAndExactlySized() {
        for (int size : new int[] {0, 1, 512, 4095, 4096, 4097, 65536, 1 << 20}) {
            ByteBuffer b = AlignedBuffers.allocate(size);
            assertThat(b.capacity()).isEqualTo(size);
            assertThat(b.isDirect()).isTrue();
            assertThat(AlignedBuffers.isAligned(b, 4096)).as("size %d", size).isTrue();
        }
        ByteBuffer b = AlignedBuffers.allocate(8192);
        assertThat(AlignedBuffers.isAligned(b.position(512), 512)).isTrue();
        assertThat(AlignedBuffers.isAligned(b.position(512), 4096)).isFalse();
        assertThat(AlignedBuffers.isAligned(ByteBuffer.allocate(4096), 4096)).isFalse();
    }
}
