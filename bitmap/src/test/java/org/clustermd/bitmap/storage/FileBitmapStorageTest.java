package org.clustermd.bitmap.storage;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileBitmapStorageTest extends BitmapStorageContractTest {
    @TempDir
    Path dir;

    private int files;

    @Override
    protected BitmapStorage createStorage(long size) throws Exception {
        return FileBitmapStorage.open(dir.resolve("leg" + files++), 8192, size);
    }

    @Test
    void areaStartsAtItsOffsetAndSurvivesReopen() throws Exception {
        Path leg = dir.resolve("leg-offset");
        Files.write(leg, new byte[8192]);
        ByteBuffer block = BitmapStorage.allocate(4096);
        for (int i = 0; i < 4096; i++) block.put(i, (byte) 0x5a);
        try (FileBitmapStorage s = FileBitmapStorage.open(leg, 8192, 16 * 1024)) {
            s.write(0, block.duplicate());
            s.flush();
        }
        byte[] raw = Files.readAllBytes(leg);
        assertThat(raw.length).isEqualTo(8192 + 16 * 1024);
        for (int i = 0; i < 8192; i++)
            assertThat(raw[i]).as("byte %d before the area", i).isZero();
        assertThat(raw[8192]).isEqualTo((byte) 0x5a);
        assertThat(raw[8192 + 4095]).isEqualTo((byte) 0x5a);
        try (FileBitmapStorage s = FileBitmapStorage.open(leg, 8192, 16 * 1024)) {
            ByteBuffer back = BitmapStorage.allocate(4096);
            s.read(0, back);
            assertThat(back.get(17)).isEqualTo((byte) 0x5a);
        }
    }
}
