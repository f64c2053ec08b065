package org.clustermd.bench.storage;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.clustermd.bench.BenchException;
import org.clustermd.bench.BenchOptions;
import org.clustermd.raid1.ArrayOptions;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.BitmapMode;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.admin.CreateResult;
import org.clustermd.raid1.io.AlignedBuffers;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceOptions;
import org.clustermd.raid1.io.BlockDevices;
import org.clustermd.raid1.io.IoEngine;

/**
 * Two leg files on a real disk that ours and the fio peer share (docs/design.md §7): made under
 * {@code --dir} (default /var/tmp; tmpfs is refused), pre-written in full with O_DIRECT so that
 * neither side pays for allocating blocks or converting unwritten extents, and deleted at close.
 *
 * <p>Options read: {@code --size} (array size, default 1G), {@code --engine aio|threads}
 * (default aio when libaio loads), {@code --bitmap-chunk} (default 64M, md's clustered default),
 * {@code --nodes} (bitmap slots, default 4).
 *
 * <p>Arrays are created afresh on the same files whenever a measurement needs one (creating
 * writes only the superblocks and bitmaps); {@link #dataOffsetBytes()} is where the data area
 * starts, which is where fio's jobs start too.
 *
 * <p>Not thread-safe; one suite uses it at a time.
 */
public final class LegFiles implements AutoCloseable {
    /** Room after the array for the metadata in front of it (data_offset is about 1-2 MiB). */
    private static final long HEADROOM = 64L << 20;

    private final Path dir;
    private final List<Path> legs;
    private final long arrayBytes;
    private final long chunkBytes;
    private final int nodes;
    private final IoEngine engine;
    private final String fileSystem;
    private long dataOffsetBytes = -1;

    private LegFiles(
            Path dir,
            List<Path> legs,
            long arrayBytes,
            long chunkBytes,
            int nodes,
            IoEngine engine,
            String fileSystem) {
        this.dir = dir;
        this.legs = legs;
        this.arrayBytes = arrayBytes;
        this.chunkBytes = chunkBytes;
        this.nodes = nodes;
        this.engine = engine;
        this.fileSystem = fileSystem;
    }

    /** Makes {@code count} pre-written leg files in a new directory under {@code --dir}. */
    public static LegFiles create(BenchOptions o, String suite, int count) throws BenchException {
        long size = parseSize(o.string("size", "1G"));
        long chunk = parseSize(o.string("bitmap-chunk", "64M"));
        int nodes = o.intValue("nodes", CreateOptions.DEFAULT_NODES);
        String e = o.string("engine", BlockDevices.aioAvailable() ? "aio" : "threads");
        IoEngine engine = switch (e) {
            case "aio" -> IoEngine.AIO;
            case "threads" -> IoEngine.THREADS;
            default -> throw new BenchException("--engine must be aio or threads: " + e);
        };
        if (size % (1 << 20) != 0) throw new BenchException("--size must be a multiple of 1 MiB: " + size);
        Path base = o.dir();
        Path dir = null;
        try {
            Files.createDirectories(base);
            String fs = Files.getFileStore(base).type();
            if (fs.equals("tmpfs") || fs.equals("ramfs")) {
                throw new BenchException(base + " is on " + fs + ": storage figures need a real disk (--dir)");
            }
            dir = Files.createTempDirectory(base, "clustermd-" + suite + "-");
            List<Path> legs = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                Path p = dir.resolve("leg" + i);
                try (RandomAccessFile f = new RandomAccessFile(p.toFile(), "rw")) {
                    f.setLength(size + HEADROOM);
                }
                legs.add(p);
            }
            LegFiles l = new LegFiles(dir, legs, size, chunk, nodes, engine, fs);
            l.prewrite();
            return l;
        } catch (IOException ex) {
            if (dir != null) deleteTree(dir);
            throw new BenchException("cannot make leg files under " + base + ": " + ex.getMessage(), ex);
        }
    }

    /** Writes every byte of every leg once (1 MiB requests, 8 in flight), so blocks are allocated. */
    private void prewrite() throws IOException {
        long t0 = System.nanoTime();
        int block = 1 << 20;
        for (Path p : legs) {
            try (BlockDevice d = BlockDevices.open(p, deviceOptions())) {
                List<CompletableFuture<Void>> window = new ArrayList<>();
                ByteBuffer[] bufs = new ByteBuffer[8];
                for (int i = 0; i < bufs.length; i++) bufs[i] = AlignedBuffers.allocate(block);
                for (long off = 0, n = 0; off < d.size(); off += block, n++) {
                    int slot = (int) (n % bufs.length);
                    if (window.size() == bufs.length) BlockDevice.await(window.remove(0));
                    ByteBuffer b = bufs[slot].duplicate().clear().limit((int) Math.min(block, d.size() - off));
                    window.add(d.writeAsync(off, b));
                }
                for (CompletableFuture<Void> f : window) BlockDevice.await(f);
                d.flush();
            }
        }
        progress(
                "pre-wrote %d legs of %d MiB in %.1f s (%s, %s)",
                legs.size(), (arrayBytes + HEADROOM) >> 20, (System.nanoTime() - t0) / 1e9, dir, fileSystem);
    }

    /**
     * {@code clustermd create} on the legs: raid1 over every leg, the bitmap as asked.
     *
     * @param assumeClean false: the array needs a full resync at its first assembly
     */
    public CreateResult createArray(BitmapMode bitmap, boolean assumeClean) throws IOException {
        CreateResult r = ArrayCreator.create(
                CreateOptions.builder("bench")
                        .clusterName("bench")
                        .nodes(nodes)
                        .bitmap(bitmap)
                        .bitmapChunk(chunkBytes)
                        .assumeClean(assumeClean)
                        .sizeBytes(arrayBytes)
                        .build(),
                legs);
        dataOffsetBytes = r.dataOffset() * BlockDevice.SECTOR_SIZE;
        return r;
    }

    /** Opens the legs with O_DIRECT and the chosen engine (the caller owns them). */
    public List<BlockDevice> openLegs() throws IOException {
        List<BlockDevice> out = new ArrayList<>();
        try {
            for (Path p : legs) out.add(BlockDevices.open(p, deviceOptions()));
        } catch (IOException e) {
            for (BlockDevice d : out) d.close();
            throw e;
        }
        return out;
    }

    /** Creates an array (as {@link #createArray}) and assembles it with {@code options}. */
    public Raid1Array array(BitmapMode bitmap, boolean assumeClean, ArrayOptions options) throws IOException {
        createArray(bitmap, assumeClean);
        return Raid1Array.assemble(openLegs(), options);
    }

    public BlockDeviceOptions deviceOptions() {
        return BlockDeviceOptions.defaults().withEngine(engine);
    }

    public Path leg(int i) {
        return legs.get(i);
    }

    public Path dir() {
        return dir;
    }

    public long arrayBytes() {
        return arrayBytes;
    }

    /** Bitmap slots of the arrays created here. */
    public int nodes() {
        return nodes;
    }

    public long chunkBytes() {
        return chunkBytes;
    }

    /** Where the data area of the last created array starts on each leg, bytes. */
    public long dataOffsetBytes() {
        if (dataOffsetBytes < 0) throw new IllegalStateException("no array created yet");
        return dataOffsetBytes;
    }

    /** The configuration every figure reports. */
    public Map<String, Object> config() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("array_bytes", arrayBytes);
        m.put("legs", legs.size());
        m.put("engine", engine.name().toLowerCase(Locale.ROOT));
        m.put("o_direct", true);
        m.put("bitmap_chunk_bytes", chunkBytes);
        m.put("bitmap_nodes", nodes);
        m.put("file_system", fileSystem);
        m.put("dir", dir.getParent().toString());
        m.put("cores", Runtime.getRuntime().availableProcessors());
        return m;
    }

    @Override
    public void close() {
        deleteTree(dir);
    }

    /** Parses {@code 1G}, {@code 64M}, {@code 4k} or plain bytes. */
    public static long parseSize(String s) throws BenchException {
        String t = s.trim().toUpperCase(Locale.ROOT);
        long mult = 1;
        if (t.endsWith("IB")) t = t.substring(0, t.length() - 2);
        else if (t.endsWith("B")) t = t.substring(0, t.length() - 1);
        switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
            case 'K' -> mult = 1L << 10;
            case 'M' -> mult = 1L << 20;
            case 'G' -> mult = 1L << 30;
            case 'T' -> mult = 1L << 40;
            default -> mult = 1;
        }
        if (mult > 1) t = t.substring(0, t.length() - 1);
        try {
            long v = Long.parseLong(t) * mult;
            if (v <= 0) throw new NumberFormatException();
            return v;
        } catch (NumberFormatException e) {
            throw new BenchException("not a size: '" + s + "' (examples: 1G, 64M, 4096)");
        }
    }

    static void progress(String fmt, Object... args) {
        System.err.printf(fmt + "%n", args);
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.deleteIfExists(p);
                } catch (IOException ignored) {
                    // best effort: the directory is a temp dir under --dir
                }
            });
        } catch (IOException ignored) {
            // nothing to delete
        }
    }
}
