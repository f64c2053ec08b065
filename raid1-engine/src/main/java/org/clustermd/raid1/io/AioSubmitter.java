package org.clustermd.raid1.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicReferenceArray;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link IoEngine#AIO}: Linux native AIO through libaio, bound with jnr-ffi. The submitting
 * thread calls {@code io_submit} itself (no hand-off, so a request costs one system call on the
 * caller's side), and one reaper thread per device ({@code aio-<leg>}) waits in
 * {@code io_getevents} and completes futures in batches. This is how fio's libaio engine, the
 * peer of figure P1, reaches queue depth 32 from a single thread.
 *
 * <p>Memory: one direct region holds {@code queueDepth} slots of 128 bytes, each a kernel
 * {@code struct iocb} (64 bytes, include/uapi/linux/aio_abi.h) followed by the 8-byte pointer
 * that {@code io_submit}'s {@code iocb **} argument points at. A slot belongs to one request
 * from submit until its event is reaped; a semaphore hands out free slots, so a submitter blocks
 * only when the whole queue depth is in use.
 *
 * <pre>
 * struct iocb (little-endian x86_64/aarch64)       struct io_event (32 bytes)
 *   0 u64 aio_data      (we store the slot index)   0 u64 data
 *   8 u32 aio_key       12 u32 aio_rw_flags         8 u64 obj
 *  16 u16 aio_lio_opcode 18 s16 aio_reqprio         16 s64 res  (bytes or -errno)
 *  20 u32 aio_fildes                                24 s64 res2
 *  24 u64 aio_buf       32 u64 aio_nbytes
 *  40 s64 aio_offset    48 u64 aio_reserved2
 *  56 u32 aio_flags     60 u32 aio_resfd
 * </pre>
 *
 * <p>Thread-safe: any number of threads may submit concurrently.
 */
final class AioSubmitter implements IoSubmitter {
    private static final Logger LOG = LoggerFactory.getLogger(AioSubmitter.class);

    private static final int SLOT = 128;
    private static final int EVENT = 32;
    private static final short IOCB_CMD_PREAD = 0;
    private static final short IOCB_CMD_PWRITE = 1;
    private static final short IOCB_CMD_FDSYNC = 3;
    /** RWF_DSYNC: per-write O_DSYNC, i.e. FUA (include/uapi/linux/fs.h). */
    private static final int RWF_DSYNC = 0x2;

    private static final int EINTR = 4;
    private static final int EAGAIN = 11;
    private static final int EINVAL = 22;
    /**
     * How long the reaper waits in one io_getevents call: also how long {@link #close()} may wait
     * for it, since the context may only be destroyed once the reaper is out of libaio.
     */
    private static final long REAP_TIMEOUT_NANOS = 20_000_000L;

    /** The four libaio entry points; contexts and addresses are passed as raw 64-bit values. */
    public interface LibAio {
        int io_setup(int maxevents, Pointer ctxp);

        int io_destroy(long ctx);

        int io_submit(long ctx, long nr, long iocbpp);

        int io_getevents(long ctx, long minNr, long nr, long events, Pointer timeout);
    }

    private static final Object LOAD_LOCK = new Object();
    private static volatile LibAio lib;
    private static volatile Throwable loadFailure;

    private final PosixBlockDevice device;
    private final int fd;
    private final int depth;
    private final long ctx;
    private final ByteBuffer slots;
    private final long slotsAddress;
    private final ByteBuffer events;
    private final long eventsAddress;
    private final Pointer timeout;
    private final AtomicReferenceArray<IoRequest> inflight;
    private final Semaphore free;
    private final int[] freeStack;
    private int freeTop;
    private final Thread reaper;
    private volatile boolean running = true;
    private volatile boolean fsyncByThread;

    private AioSubmitter(PosixBlockDevice device, int fd, int depth, long ctx) {
        this.device = device;
        this.fd = fd;
        this.depth = depth;
        this.ctx = ctx;
        Runtime rt = Runtime.getSystemRuntime();
        this.slots = AlignedBuffers.allocate(depth * SLOT).order(ByteOrder.LITTLE_ENDIAN);
        this.slotsAddress = Pointer.wrap(rt, slots).address();
        this.events = AlignedBuffers.allocate(depth * EVENT).order(ByteOrder.LITTLE_ENDIAN);
        this.eventsAddress = Pointer.wrap(rt, events).address();
        this.timeout = Memory.allocateDirect(rt, 16);
        timeout.putLongLong(0, REAP_TIMEOUT_NANOS / 1_000_000_000L);
        timeout.putLongLong(8, REAP_TIMEOUT_NANOS % 1_000_000_000L);
        this.inflight = new AtomicReferenceArray<>(depth);
        this.free = new Semaphore(depth);
        this.freeStack = new int[depth];
        for (int i = 0; i < depth; i++) {
            freeStack[i] = depth - 1 - i;
            // the iocb ** cell of each slot points at that slot's iocb, once and for all
            slots.putLong(i * SLOT + 64, slotsAddress + (long) i * SLOT);
        }
        this.freeTop = depth;
        this.reaper = new EngineThread(this::reap, "aio-" + device.shortName());
        reaper.start();
    }

    /** libaio bound and usable on this machine. */
    static boolean available() {
        return library() != null;
    }

    /** Why libaio is not available, for the log; null when it is. */
    static Throwable unavailableReason() {
        library();
        return loadFailure;
    }

    private static LibAio library() {
        LibAio l = lib;
        if (l != null || loadFailure != null) {
            return l;
        }
        synchronized (LOAD_LOCK) {
            if (lib == null && loadFailure == null) {
                try {
                    lib = LibraryLoader.create(LibAio.class).failImmediately().load("aio");
                } catch (Throwable t) { // UnsatisfiedLinkError and friends: fall back to threads
                    loadFailure = t;
                }
            }
            return lib;
        }
    }

    /**
     * Sets up an AIO context for {@code device}.
     *
     * @throws BlockDeviceException OPEN_FAILED when libaio is missing or io_setup fails
     */
    static AioSubmitter create(PosixBlockDevice device, int fd, int depth) throws BlockDeviceException {
        LibAio l = library();
        if (l == null) {
            throw new BlockDeviceException(
                    BlockDeviceException.Code.OPEN_FAILED, device.name(), 0, "libaio not available", loadFailure);
        }
        Pointer ctxp = Memory.allocateDirect(Runtime.getSystemRuntime(), 8);
        ctxp.putLongLong(0, 0);
        int rc = l.io_setup(depth, ctxp);
        if (rc < 0) {
            throw new BlockDeviceException(
                    BlockDeviceException.Code.OPEN_FAILED,
                    device.name(),
                    -rc,
                    "io_setup(" + depth + ") failed: " + NativeIo.strerror(-rc),
                    null);
        }
        return new AioSubmitter(device, fd, depth, ctxp.getLongLong(0));
    }

    @Override
    public void submit(IoRequest r) {
        if (r.op == IoRequest.Op.FLUSH && fsyncByThread) {
            flushByThread(r);
            return;
        }
        int slot;
        try {
            slot = takeSlot();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            device.finish(
                    r,
                    new BlockDeviceException(
                            BlockDeviceException.Code.IO_ERROR,
                            device.name(),
                            "interrupted while waiting for a free AIO slot"));
            return;
        }
        int base = slot * SLOT;
        long bufAddress = r.buf == null || r.length == 0
                ? 0
                : Pointer.wrap(Runtime.getSystemRuntime(), r.buf).address();
        short opcode = switch (r.op) {
            case READ -> IOCB_CMD_PREAD;
            case WRITE -> IOCB_CMD_PWRITE;
            case FLUSH -> IOCB_CMD_FDSYNC;
        };
        slots.putLong(base, slot);
        slots.putInt(base + 8, 0);
        slots.putInt(base + 12, r.fua && r.op == IoRequest.Op.WRITE ? RWF_DSYNC : 0);
        slots.putShort(base + 16, opcode);
        slots.putShort(base + 18, (short) 0);
        slots.putInt(base + 20, fd);
        slots.putLong(base + 24, bufAddress);
        slots.putLong(base + 32, r.length);
        slots.putLong(base + 40, r.offset);
        slots.putLong(base + 48, 0);
        slots.putInt(base + 56, 0);
        slots.putInt(base + 60, 0);
        inflight.set(slot, r);
        int rc;
        do {
            rc = lib.io_submit(ctx, 1, slotsAddress + base + 64);
        } while (rc == -EINTR || rc == -EAGAIN);
        if (rc != 1) {
            inflight.set(slot, null);
            returnSlot(slot);
            if (r.op == IoRequest.Op.FLUSH && rc == -EINVAL) {
                // a file system without aio fsync: do it on a thread from now on
                LOG.info("{}: AIO fdatasync not supported, flushing from a thread", device.name());
                fsyncByThread = true;
                flushByThread(r);
                return;
            }
            int errno = rc < 0 ? -rc : 0;
            device.finish(
                    r,
                    new BlockDeviceException(
                            BlockDeviceException.Code.IO_ERROR,
                            device.name(),
                            errno,
                            "io_submit failed: " + (errno == 0 ? "returned " + rc : NativeIo.strerror(errno)),
                            null));
        }
    }

    private void flushByThread(IoRequest r) {
        new EngineThread(() -> device.finish(r, device.execute(r)), "aio-flush-" + device.shortName()).start();
    }

    private void reap() {
        while (running || anyInFlight()) {
            int n = lib.io_getevents(ctx, 1, depth, eventsAddress, timeout);
            if (n < 0) {
                if (n == -EINTR) {
                    continue;
                }
                if (!running) {
                    break; // closing
                }
                LOG.error("{}: io_getevents failed: {}", device.name(), NativeIo.strerror(-n));
                break;
            }
            for (int i = 0; i < n; i++) {
                int slot = (int) events.getLong(i * EVENT);
                long res = events.getLong(i * EVENT + 16);
                IoRequest r = inflight.getAndSet(slot, null);
                returnSlot(slot);
                if (r == null) {
                    LOG.error("{}: AIO event for an empty slot {}", device.name(), slot);
                    continue;
                }
                device.finish(r, outcome(r, res));
            }
        }
    }

    private BlockDeviceException outcome(IoRequest r, long res) {
        if (res < 0) {
            int errno = (int) -res;
            return new BlockDeviceException(
                    BlockDeviceException.Code.IO_ERROR,
                    device.name(),
                    errno,
                    r.op.name().toLowerCase() + " at offset " + r.offset + " length " + r.length + ": "
                            + NativeIo.strerror(errno),
                    null);
        }
        if (r.op != IoRequest.Op.FLUSH && res != r.length) {
            return new BlockDeviceException(
                    BlockDeviceException.Code.IO_ERROR,
                    device.name(),
                    "short " + r.op.name().toLowerCase() + " at offset " + r.offset + ": " + res + " of " + r.length
                            + " bytes");
        }
        return null;
    }

    private boolean anyInFlight() {
        return free.availablePermits() < depth;
    }

    private int takeSlot() throws InterruptedException {
        free.acquire();
        synchronized (freeStack) {
            return freeStack[--freeTop];
        }
    }

    private void returnSlot(int slot) {
        synchronized (freeStack) {
            freeStack[freeTop++] = slot;
        }
        free.release();
    }

    @Override
    public void close() {
        running = false;
        // every request has finished (the device waited for that). The context is destroyed only
        // after the reaper left io_getevents: libaio's io_getevents reads the context's ring in
        // user space before it enters the kernel, so destroying it under a reaper that is about
        // to call in again unmaps that ring and crashes the JVM (SIGSEGV in io_getevents).
        try {
            reaper.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (reaper.isAlive()) {
            LOG.error(
                    "{}: AIO reaper did not stop; leaking its context rather than destroying it under it",
                    device.name());
            return;
        }
        int rc = lib.io_destroy(ctx);
        if (rc < 0) {
            LOG.warn("{}: io_destroy failed: {}", device.name(), NativeIo.strerror(-rc));
        }
    }
}
