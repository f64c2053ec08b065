package org.clustermd.bitmap.storage;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Objects;

/**
 * A bitmap area inside a plain file (or a block device node), for tests and tools: the area
 * starts {@code areaOffset} bytes into the file and is {@code areaSize} bytes long.
 *
 * <p>Positional {@link FileChannel} I/O through the page cache; {@link #flush()} is
 * {@code fdatasync}. A file shorter than the area is extended on open so that later flushes
 * never depend on a size change.
 *
 * <p>Thread-safe: positional reads and writes of a {@code FileChannel} may run concurrently.
 */
public final class FileBitmapStorage implements BitmapStorage {
    private final Path path;
    private final FileChannel channel;
    private final long areaOffset;
    private final long areaSize;

    private FileBitmapStorage(Path path, FileChannel channel, long areaOffset, long areaSize) {
        this.path = path;
        this.channel = channel;
        this.areaOffset = areaOffset;
        this.areaSize = areaSize;
    }

    /**
     * Opens (creating if needed) {@code file} and exposes {@code areaSize} bytes from
     * {@code areaOffset} as a bitmap area.
     *
     * @param areaOffset byte offset of the area in the file, a multiple of 4096 (md: 8192)
     * @param areaSize   bytes of the area, a multiple of 4096
     */
    public static FileBitmapStorage open(Path file, long areaOffset, long areaSize) throws IOException {
        Objects.requireNonNull(file, "file");
        if (areaOffset < 0 || areaOffset % BLOCK_SIZE != 0 || areaSize <= 0 || areaSize % BLOCK_SIZE != 0) {
            throw new IllegalArgumentException(
                    "area [" + areaOffset + ", +" + areaSize + ") of " + file + " is not aligned to " + BLOCK_SIZE);
        }
        FileChannel ch =
                FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        try {
            long end = areaOffset + areaSize;
            if (ch.size() < end) {
                // extend with one byte at the end: the file system records the size now, so a
                // later fdatasync never races a size change
                ch.write(ByteBuffer.allocate(1), end - 1);
                ch.force(true);
            }
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return new FileBitmapStorage(file, ch, areaOffset, areaSize);
    }

    @Override
    public String name() {
        return path + "@" + areaOffset;
    }

    @Override
    public long size() {
        return areaSize;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        check(offset, dst.remaining());
        long pos = areaOffset + offset;
        while (dst.hasRemaining()) {
            int n = channel.read(dst, pos);
            if (n < 0) throw new EOFException(name() + ": end of file at byte " + pos);
            pos += n;
        }
    }

    @Override
    public void write(long offset, ByteBuffer src) throws IOException {
        check(offset, src.remaining());
        long pos = areaOffset + offset;
        while (src.hasRemaining()) {
            pos += channel.write(src, pos);
        }
    }

    @Override
    public void flush() throws IOException {
        channel.force(false);
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }

    private void check(long offset, int length) {
        BitmapStorage.checkRange(name(), offset, length, areaSize);
    }

    @Override
    public String toString() {
        return "FileBitmapStorage[" + name() + ", " + areaSize + " bytes]";
    }
}
