package org.clustermd.raid1.io;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import jnr.posix.FileStat;
import org.clustermd.raid1.io.BlockDeviceException.Code;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A {@link BlockDevice} on a file or a block device through jnr-posix, opened O_DIRECT by
 * default. Blocking calls run pread/pwrite/fdatasync on the caller's thread; async calls go to
 * the device's {@link IoSubmitter} ({@link IoEngine#AIO} or {@link IoEngine#THREADS}).
 *
 * <p>Thread-safe. Close waits for every request in flight (the count of admitted requests),
 * then stops the engine and closes the descriptor.
 */
final class PosixBlockDevice implements BlockDevice {
    private static final Logger LOG = LoggerFactory.getLogger(PosixBlockDevice.class);
    private static final int EINTR = 4;
    /** Regular files: the page size, the strictest O_DIRECT alignment any file system here asks. */
    private static final int FILE_BLOCK_SIZE = 4096;

    private static final long CLOSE_WAIT_NANOS = TimeUnit.SECONDS.toNanos(60);

    private final String name;
    private final String shortName;
    private final int fd;
    private final long size;
    private final int blockSize;
    private final boolean readOnly;
    private final boolean blockDevice;
    private final IoAccounting accounting = new IoAccounting();
    /** Requests admitted and not finished, whether blocking or async: close waits for 0. */
    private final AtomicInteger active = new AtomicInteger();

    private final IoSubmitter submitter;
    private final IoEngine engine;
    private volatile boolean closed;

    private PosixBlockDevice(
            Path path, int fd, long size, int blockSize, boolean blockDevice, BlockDeviceOptions o, IoEngine engine)
            throws BlockDeviceException {
        this.name = path.toString();
        Path fn = path.getFileName();
        this.shortName = fn == null ? name : fn.toString();
        this.fd = fd;
        this.size = size;
        this.blockSize = blockSize;
        this.blockDevice = blockDevice;
        this.readOnly = o.readOnly();
        this.engine = engine;
        this.submitter = engine == IoEngine.AIO
                ? AioSubmitter.create(this, fd, o.queueDepth())
                : new ThreadSubmitter(this, o.queueDepth());
    }

    static PosixBlockDevice open(Path path, BlockDeviceOptions o) throws BlockDeviceException {
        String name = path.toString();
        if (!NativeIo.isNative()) {
            throw new BlockDeviceException(Code.OPEN_FAILED, name, "jnr-posix has no native backend on this platform");
        }
        if (java.nio.file.Files.isDirectory(path)) {
            // O_DIRECT on a directory fails with EINVAL, which would blame O_DIRECT
            throw new BlockDeviceException(Code.OPEN_FAILED, name, "is a directory, not a file or a block device");
        }
        int flags = (o.readOnly() ? NativeIo.O_RDONLY : NativeIo.O_RDWR) | NativeIo.O_CLOEXEC;
        if (o.direct()) {
            flags |= NativeIo.oDirect();
        }
        int fd = NativeIo.open(name, flags);
        if (fd < 0) {
            int errno = NativeIo.errno();
            String hint = o.direct() && errno == 22 ? " (the file system may refuse O_DIRECT: open it buffered)" : "";
            throw new BlockDeviceException(
                    Code.OPEN_FAILED, name, errno, "open failed: " + NativeIo.strerror(errno) + hint, null);
        }
        try {
            FileStat st = NativeIo.fstat(fd);
            long size;
            int bs;
            boolean isBlk = st.isBlockDev();
            if (isBlk) {
                size = NativeIo.blockDeviceSize(fd);
                bs = NativeIo.blockDeviceLogicalBlockSize(fd);
                if (bs <= 0) {
                    bs = SECTOR_SIZE;
                }
            } else if (st.isFile()) {
                size = st.st_size();
                bs = FILE_BLOCK_SIZE;
            } else {
                throw new BlockDeviceException(Code.OPEN_FAILED, name, "neither a regular file nor a block device");
            }
            if (size < 0) {
                throw new BlockDeviceException(Code.OPEN_FAILED, name, "cannot determine the device size");
            }
            // a partial last block can never be addressed with O_DIRECT
            size -= size % bs;
            if (size < o.minimumSize()) {
                throw new BlockDeviceException(
                        Code.DEVICE_TOO_SMALL,
                        name,
                        "device too small: " + size + " bytes usable, at least " + o.minimumSize() + " needed");
            }
            IoEngine engine = o.engine();
            if (engine == null) {
                engine = o.direct() && AioSubmitter.available() ? IoEngine.AIO : IoEngine.THREADS;
            }
            PosixBlockDevice d = new PosixBlockDevice(path, fd, size, bs, isBlk, o, engine);
            LOG.debug(
                    "opened {} ({}, {} bytes, logical block {}, {}, engine {}, depth {})",
                    name,
                    isBlk ? "block device" : "file",
                    size,
                    bs,
                    o.direct() ? "O_DIRECT" : "buffered",
                    engine,
                    o.queueDepth());
            return d;
        } catch (BlockDeviceException | RuntimeException e) {
            NativeIo.close(fd);
            throw e;
        }
    }

    static void requireNotInUse(Path path) throws BlockDeviceException {
        if (!NativeIo.isNative() || !java.nio.file.Files.exists(path) || java.nio.file.Files.isDirectory(path)) return;
        int fd = NativeIo.open(path.toString(), NativeIo.O_RDONLY | NativeIo.O_CLOEXEC);
        if (fd < 0) return;
        boolean blk;
        try {
            blk = NativeIo.fstat(fd).isBlockDev();
        } finally {
            NativeIo.close(fd);
        }
        if (!blk) return;
        fd = NativeIo.open(path.toString(), NativeIo.O_RDONLY | NativeIo.O_EXCL | NativeIo.O_CLOEXEC);
        if (fd >= 0) {
            NativeIo.close(fd);
            return;
        }
        int errno = NativeIo.errno();
        if (errno == NativeIo.EBUSY) {
            throw new BlockDeviceException(
                    Code.OPEN_FAILED,
                    path.toString(),
                    errno,
                    "is in use (mounted, or held by md, "
                            + "device-mapper or another program that opened it exclusively)",
                    null);
        }
    }

    String shortName() {
        return shortName;
    }

    /** The engine serving async requests (for tests and the log). */
    IoEngine engine() {
        return engine;
    }

    boolean isBlockDevice() {
        return blockDevice;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public int logicalBlockSize() {
        return blockSize;
    }

    @Override
    public DiskStats stats() {
        return accounting.snapshot();
    }

    @Override
    public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
        return submit(IoRequest.Op.READ, offset, dst, false);
    }

    @Override
    public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
        return submit(IoRequest.Op.WRITE, offset, src, fua);
    }

    @Override
    public CompletableFuture<Void> flushAsync() {
        return submit(IoRequest.Op.FLUSH, 0, null, false);
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
        runHere(IoRequest.Op.READ, offset, dst, false);
    }

    @Override
    public void write(long offset, ByteBuffer src, boolean fua) throws IOException {
        runHere(IoRequest.Op.WRITE, offset, src, fua);
    }

    @Override
    public void flush() throws IOException {
        runHere(IoRequest.Op.FLUSH, 0, null, false);
    }

    @Override
    public void writeAsync(long offset, ByteBuffer src, boolean fua, IoCompletion done, int tag) {
        BlockDeviceException bad = check(IoRequest.Op.WRITE, offset, src);
        if (bad != null) {
            done.completed(tag, bad);
            return;
        }
        int len = src.remaining();
        if (len == 0) {
            done.completed(tag, null);
            return;
        }
        if (!enter()) {
            done.completed(tag, closedError());
            return;
        }
        submitter.submit(new IoRequest(IoRequest.Op.WRITE, offset, src, len, fua, accounting.start(), null, done, tag));
    }

    private CompletableFuture<Void> submit(IoRequest.Op op, long offset, ByteBuffer buf, boolean fua) {
        BlockDeviceException bad = check(op, offset, buf);
        if (bad != null) {
            return CompletableFuture.failedFuture(bad);
        }
        int len = buf == null ? 0 : buf.remaining();
        if (op != IoRequest.Op.FLUSH && len == 0) {
            return CompletableFuture.completedFuture(null);
        }
        if (!enter()) {
            return CompletableFuture.failedFuture(closedError());
        }
        IoRequest r = new IoRequest(op, offset, buf, len, fua, accounting.start(), new CompletableFuture<>(), null, 0);
        submitter.submit(r);
        return r.future;
    }

    private void runHere(IoRequest.Op op, long offset, ByteBuffer buf, boolean fua) throws BlockDeviceException {
        BlockDeviceException bad = check(op, offset, buf);
        if (bad != null) {
            throw bad;
        }
        int len = buf == null ? 0 : buf.remaining();
        if (op != IoRequest.Op.FLUSH && len == 0) {
            return;
        }
        if (!enter()) {
            throw closedError();
        }
        IoRequest r = new IoRequest(op, offset, buf, len, fua, accounting.start(), null, null, 0);
        BlockDeviceException e = execute(r);
        finish(r, e);
        if (e != null) {
            throw e;
        }
    }

    private boolean enter() {
        active.incrementAndGet();
        if (closed) {
            active.decrementAndGet();
            return false;
        }
        return true;
    }

    private BlockDeviceException closedError() {
        return new BlockDeviceException(Code.CLOSED, name, "device is closed");
    }

    /** Argument checks, before anything is counted or transferred. */
    private BlockDeviceException check(IoRequest.Op op, long offset, ByteBuffer buf) {
        if (op != IoRequest.Op.READ && readOnly) {
            return new BlockDeviceException(
                    Code.READ_ONLY, name, op.name().toLowerCase() + " on a device opened read-only");
        }
        if (op == IoRequest.Op.FLUSH) {
            return null;
        }
        if (buf == null) {
            return new BlockDeviceException(Code.BAD_BUFFER, name, "buffer is null");
        }
        if (op == IoRequest.Op.READ && buf.isReadOnly()) {
            return new BlockDeviceException(Code.BAD_BUFFER, name, "cannot read into a read-only buffer");
        }
        if (!buf.isDirect()) {
            return new BlockDeviceException(
                    Code.BAD_BUFFER,
                    name,
                    "heap buffer: O_DIRECT needs an aligned direct buffer (AlignedBuffers.allocate)");
        }
        int len = buf.remaining();
        if (offset % blockSize != 0 || len % blockSize != 0) {
            return new BlockDeviceException(
                    Code.UNALIGNED,
                    name,
                    "unaligned " + op.name().toLowerCase() + ": offset " + offset + " length " + len
                            + " (must be multiples of the logical block size " + blockSize + ")");
        }
        if (len > 0 && !AlignedBuffers.isAligned(buf, blockSize)) {
            return new BlockDeviceException(
                    Code.UNALIGNED,
                    name,
                    "unaligned buffer address for " + op.name().toLowerCase() + " at offset " + offset
                            + " (must be a multiple of " + blockSize + ")");
        }
        if (offset < 0 || offset > size - len) {
            return new BlockDeviceException(
                    Code.OUT_OF_RANGE,
                    name,
                    op.name().toLowerCase() + " of " + len + " bytes at offset " + offset + " is outside the device ("
                            + size + " bytes)");
        }
        return null;
    }

    /** Runs {@code r} with blocking system calls on the current thread; null on success. */
    BlockDeviceException execute(IoRequest r) {
        if (r.op == IoRequest.Op.FLUSH) {
            return sync();
        }
        ByteBuffer b = r.buf;
        int p0 = b.position();
        long done = 0;
        while (done < r.length) {
            long n = r.op == IoRequest.Op.READ
                    ? NativeIo.pread(fd, b, r.length - done, r.offset + done)
                    : NativeIo.pwrite(fd, b, r.length - done, r.offset + done);
            if (n < 0) {
                int errno = NativeIo.errno();
                if (errno == EINTR) {
                    continue;
                }
                return new BlockDeviceException(
                        Code.IO_ERROR,
                        name,
                        errno,
                        r.op.name().toLowerCase() + " at offset " + (r.offset + done) + " length " + (r.length - done)
                                + ": " + NativeIo.strerror(errno),
                        null);
            }
            if (n == 0) {
                return new BlockDeviceException(
                        Code.IO_ERROR,
                        name,
                        "short " + r.op.name().toLowerCase() + " at offset " + (r.offset + done)
                                + ": device ended early");
            }
            done += n;
            if (done < r.length) {
                // short transfer (rare with O_DIRECT): continue from a private view of the buffer
                b = r.buf.duplicate();
                b.position(p0 + (int) done);
            }
        }
        if (r.fua && r.op == IoRequest.Op.WRITE) {
            return sync();
        }
        return null;
    }

    private BlockDeviceException sync() {
        if (NativeIo.fdatasync(fd) != 0) {
            int errno = NativeIo.errno();
            return new BlockDeviceException(Code.IO_ERROR, name, errno, "fdatasync: " + NativeIo.strerror(errno), null);
        }
        return null;
    }

    /** Ends a request: counts it, releases its admission, completes its future (if async). */
    void finish(IoRequest r, BlockDeviceException error) {
        boolean ok = error == null;
        switch (r.op) {
            case READ -> accounting.endRead(r.startNanos, r.length, ok);
            case WRITE -> accounting.endWrite(r.startNanos, r.length, ok);
            case FLUSH -> accounting.endFlush(r.startNanos, ok);
        }
        active.decrementAndGet();
        if (r.completion != null) {
            try {
                r.completion.completed(r.tag, error);
            } catch (RuntimeException e) {
                // a future would have swallowed it; here it would end the reaper, which serves every leg
                LOG.error("{}: completion of a {} threw", name, r.op, e);
            }
        } else if (r.future != null) {
            if (ok) {
                r.future.complete(null);
            } else {
                r.future.completeExceptionally(error);
            }
        }
    }

    @Override
    public void close() throws IOException {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        long deadline = System.nanoTime() + CLOSE_WAIT_NANOS;
        boolean interrupted = false;
        while (active.get() > 0 && System.nanoTime() < deadline) {
            try {
                Thread.sleep(1);
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (active.get() > 0) {
            LOG.warn("{}: closing with {} requests still in flight", name, active.get());
        }
        submitter.close();
        int rc = NativeIo.close(fd);
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (rc != 0) {
            int errno = NativeIo.errno();
            throw new BlockDeviceException(Code.IO_ERROR, name, errno, "close: " + NativeIo.strerror(errno), null);
        }
    }

    @Override
    public String toString() {
        return "PosixBlockDevice[" + name + ", " + size + " bytes, block " + blockSize + ", " + engine + "]";
    }
}
