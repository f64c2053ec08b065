package org.clustermd.raid1.io;

import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link IoEngine#AIO}: Linux native AIO through libaio, bound with jnr-ffi. The submitting
 * thread calls {@code io_submit} itself (no hand-off), and the {@link AioContext} this device
 * shares with the other legs opened in this JVM reaps completions on its one reaper thread. This
 * is how fio's libaio engine, the peer of figure P1, reaches queue depth 32 from a single
 * thread. Inside an {@link IoPlug} the iocb is only prepared, and the plug hands the iocbs of
 * every leg of a mirrored write to the kernel in one {@code io_submit}. A thread with an
 * {@link AioPoller} (a network event loop) submits to a context of its own instead, and reaps
 * it itself.
 *
 * <p>Owns this device's queue depth: a semaphore of {@code queueDepth} permits, one held by each
 * request from submit until its event is reaped, so a submitter blocks only when this device's
 * whole depth is in use, whatever the other legs of the context do. The slots themselves are the
 * context's; each is a kernel {@code struct iocb} (64 bytes, include/uapi/linux/aio_abi.h)
 * followed by the 8-byte pointer that {@code io_submit}'s {@code iocb **} argument points at.
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

    private static final short IOCB_CMD_PREAD = 0;
    private static final short IOCB_CMD_PWRITE = 1;
    private static final short IOCB_CMD_FDSYNC = 3;
    /** RWF_DSYNC: per-write O_DSYNC, i.e. FUA (include/uapi/linux/fs.h). */
    private static final int RWF_DSYNC = 0x2;

    static final int EINTR = 4;
    static final int EAGAIN = 11;
    private static final int EINVAL = 22;
    /** How long a poller's thread waiting for a permit waits at a time, on its own context or the semaphore. */
    private static final long POLLED_WAIT_NANOS = 1_000_000L;

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
    private final AioContext context;
    private final Semaphore free;
    private volatile boolean fsyncByThread;

    private AioSubmitter(PosixBlockDevice device, int fd, int depth, AioContext context) {
        this.device = device;
        this.fd = fd;
        this.depth = depth;
        this.context = context;
        this.free = new Semaphore(depth);
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
     * Reserves {@code depth} slots of a shared AIO context for {@code device}.
     *
     * @throws BlockDeviceException OPEN_FAILED when libaio is missing or io_setup fails
     */
    static AioSubmitter create(PosixBlockDevice device, int fd, int depth) throws BlockDeviceException {
        LibAio l = library();
        if (l == null) {
            throw new BlockDeviceException(
                    BlockDeviceException.Code.OPEN_FAILED, device.name(), 0, "libaio not available", loadFailure);
        }
        return new AioSubmitter(device, fd, depth, AioContext.reserve(l, device.name(), depth));
    }

    @Override
    public void submit(IoRequest r) {
        if (r.op == IoRequest.Op.FLUSH && fsyncByThread) {
            flushByThread(r);
            return;
        }
        AioPoller poller = AioPoller.currentThread();
        if (!free.tryAcquire()) {
            // about to wait for this device's own completions: the plug may hold some of its iocbs
            IoPlug.flushHeld();
            try {
                acquireSlowly(poller);
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
        }
        // a poller's thread submits to its own context while it has room, else to the shared one
        AioContext c = context;
        int slot = -1;
        if (poller != null) {
            AioContext own = poller.context(lib);
            if (own != null) {
                slot = own.tryTakeSlot();
                if (slot >= 0) c = own;
            }
        }
        if (slot < 0) slot = context.takeSlot();
        long bufAddress = r.buf == null || r.length == 0
                ? 0
                : Pointer.wrap(Runtime.getSystemRuntime(), r.buf).address();
        short opcode = switch (r.op) {
            case READ -> IOCB_CMD_PREAD;
            case WRITE -> IOCB_CMD_PWRITE;
            case FLUSH -> IOCB_CMD_FDSYNC;
        };
        int rwFlags = r.fua && r.op == IoRequest.Op.WRITE ? RWF_DSYNC : 0;
        c.fill(slot, this, r, fd, opcode, rwFlags, bufAddress);
        IoPlug plug = IoPlug.current();
        if (plug != null) {
            plug.add(c, this, slot);
            return;
        }
        int rc;
        do {
            rc = c.submitOne(slot);
        } while (rc == -EINTR || rc == -EAGAIN);
        if (rc != 1) {
            refused(c, slot, rc);
        }
    }

    /**
     * Waits for one of this device's permits. A poller's thread may itself hold the requests
     * that would free one, and nobody else reaps them, so it reaps while it waits; the rest of
     * the depth, in the shared context, its reaper frees (docs/lessons.md §63).
     */
    private void acquireSlowly(AioPoller poller) throws InterruptedException {
        if (poller == null) {
            free.acquire();
            return;
        }
        while (true) {
            if (poller.inFlight() && poller.reapWaiting(POLLED_WAIT_NANOS) > 0) {
                if (free.tryAcquire()) return;
            } else if (free.tryAcquire(POLLED_WAIT_NANOS, TimeUnit.NANOSECONDS)) {
                return;
            }
        }
    }

    /** The kernel did not take {@code slot}'s iocb in {@code c} ({@code rc}: 0 or -errno): fail its request. */
    void refused(AioContext c, int slot, int rc) {
        IoRequest r = c.abandon(slot);
        free.release();
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

    /** The context's reaper reaped {@code r}'s event with result {@code res}. */
    void completed(IoRequest r, long res) {
        free.release();
        device.finish(r, outcome(r, res));
    }

    private void flushByThread(IoRequest r) {
        new EngineThread(() -> device.finish(r, device.execute(r)), "aio-flush-" + device.shortName()).start();
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

    @Override
    public void close() {
        // every request of this device has finished (the device waited for that); the context
        // goes when its last device leaves
        context.release(depth);
    }
}
