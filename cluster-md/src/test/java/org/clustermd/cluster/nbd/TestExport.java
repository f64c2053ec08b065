package org.clustermd.cluster.nbd;

import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.function.UnaryOperator;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.admin.CreateOptions;

/**
 * Test fixture: a standalone array {@code md0} (internal bitmap) on leg files in a temp
 * directory, exported by an {@link NbdServer} on 127.0.0.1 and a free port.
 */
final class TestExport implements AutoCloseable {
    static final long LEG_SLACK = 8L << 20;

    final List<Path> legs = new ArrayList<>();
    private final UnaryOperator<NbdServer.Builder> settings;
    private final UnaryOperator<ArrayOptions.Builder> arrayOptions;
    /** Where the data area starts on each leg, bytes. */
    final long dataOffset;

    Raid1Array array;
    NbdServer server;

    private TestExport(
            Path dir,
            int legCount,
            long arrayBytes,
            UnaryOperator<NbdServer.Builder> settings,
            UnaryOperator<ArrayOptions.Builder> arrayOptions)
            throws IOException {
        this.settings = settings;
        this.arrayOptions = arrayOptions;
        for (int i = 0; i < legCount; i++) {
            Path f = dir.resolve("leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(arrayBytes + LEG_SLACK);
            }
            legs.add(f);
        }
        dataOffset = ArrayCreator.create(
                                CreateOptions.builder("md0")
                                        .nodes(1)
                                        .bitmap(BitmapMode.INTERNAL)
                                        .bitmapChunk(1 << 20)
                                        .sizeBytes(arrayBytes)
                                        .assumeClean(true)
                                        .build(),
                                legs)
                        .dataOffset()
                * 512L;
        open();
    }

    private void open() throws IOException {
        array = Raid1Array.open(
                legs, arrayOptions.apply(ArrayOptions.builder().name("md0")).build());
        try {
            server = settings.apply(NbdServer.builder())
                    .port(0)
                    .export(new Raid1ArrayTarget(array))
                    .start();
        } catch (IOException | RuntimeException e) {
            array.close();
            throw e;
        }
    }

    /** Stops the server and the array, then assembles the array from its legs again and serves it on a new port. */
    void restart() throws IOException {
        close();
        open();
    }

    static TestExport start(Path dir, int legCount, long arrayBytes) throws IOException {
        return new TestExport(dir, legCount, arrayBytes, b -> b, a -> a);
    }

    static TestExport start(Path dir, int legCount, long arrayBytes, UnaryOperator<NbdServer.Builder> settings)
            throws IOException {
        return new TestExport(dir, legCount, arrayBytes, settings, a -> a);
    }

    static TestExport start(
            Path dir,
            int legCount,
            long arrayBytes,
            UnaryOperator<NbdServer.Builder> settings,
            UnaryOperator<ArrayOptions.Builder> arrayOptions)
            throws IOException {
        return new TestExport(dir, legCount, arrayBytes, settings, arrayOptions);
    }

    /** The export's URI as libnbd and qemu spell it. */
    String uri() {
        return "nbd://127.0.0.1:" + server.port() + "/md0";
    }

    int port() {
        return server.port();
    }

    /** {@code length} bytes of leg {@code i} at array offset {@code offset}, read from the file itself. */
    byte[] legBytes(int i, long offset, int length) throws IOException {
        try (RandomAccessFile f = new RandomAccessFile(legs.get(i).toFile(), "r")) {
            byte[] b = new byte[length];
            f.seek(dataOffset + offset);
            f.readFully(b);
            return b;
        }
    }

    /** SHA-256 of each whole leg file, superblock and bitmap included. */
    List<String> legDigests() throws IOException {
        List<String> out = new ArrayList<>();
        for (Path p : legs) out.add(sha256(p));
        return out;
    }

    static String sha256(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 20];
            for (int n; (n = in.read(buf)) > 0; ) md.update(buf, 0, n);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void close() {
        try {
            server.close();
        } finally {
            array.close();
        }
    }
}
