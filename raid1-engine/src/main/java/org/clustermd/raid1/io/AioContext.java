package org.clustermd.raid1.io;

import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import jnr.ffi.Memory;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;
import org.clustermd.raid1.io.AioSubmitter.LibAio;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One kernel AIO context shared by several {@link AioSubmitter}s (the legs opened in this JVM),
 * with its one reaper thread ({@code aio-reaper-<n>}). Sharing is what lets a mirrored write hand
 * both legs' iocbs to the kernel in one {@code io_submit} ({@link IoPlug}) and have both
 * completions reaped by one {@code io_getevents} on one thread, where a context per leg cost two
 * calls of each and two reaper wake-ups per write (docs/datapath-cost.md).
 *
 * <p>Owns: the context, its {@value #SLOTS} iocb slots (one direct region, laid out as
 * {@link AioSubmitter} describes), the table of which request and which submitter each slot
 * serves, the free-slot stack, the event buffer and the reaper. A submitter reserves its queue
 * depth here when it opens and takes a slot only while holding one of its own permits, so the
 * sum of the reservations never exceeds the slots and {@link #takeSlot} never finds the stack
 * empty; a slow leg uses up only its own depth.
 *
 * <p>Lifetime: a process-wide pool hands out contexts with room; the last {@link #release}
 * stops the reaper and destroys the context only after the reaper left libaio and every slot
 * came back, because libaio's {@code io_getevents} reads the ring in user space and the slots'
 * memory is what the kernel writes results against (docs/lessons.md §51).
 *
 * <p>A polled context ({@link #polled}) has no reaper and no reservations: it belongs to one
 * thread ({@link AioPoller}), which submits to it only when a slot is free and reaps it itself;
 * with an eventfd, every iocb asks the kernel to signal it on completion, so an owner asleep in
 * {@code epoll_wait} wakes for it; without one, the owner sleeps in {@code io_getevents} on this
 * context, which the kernel wakes directly. When the owner lets go with requests in flight, a
 * reaper thread is started to finish them and destroy the context (the same exit as a shared one).
 *
 * <p>Thread-safe: slots are taken and returned under the stack's lock; a slot's owner is written
 * before its request is set (a volatile store) and read after the reaper's {@code getAndSet}.
 */
final class AioContext {
    private static final Logger LOG = LoggerFactory.getLogger(AioContext.class);

    /**
     * Slots per context: 4 devices of the default depth 64, an array's legs. Small on purpose:
     * io_setup charges about twice the slots against the machine-wide {@code fs.aio-max-nr}
     * (65536 by default), shared by every JVM of a multi-node test; a fifth device gets a
     * context of its own.
     */
    static final int SLOTS = 256;

    static final int SLOT = 128;
    private static final int EVENT = 32;
    private static final int EINTR = 4;
    /** struct iocb's aio_flags bit: signal aio_resfd, an eventfd, on completion (include/uapi/linux/aio_abi.h). */
    private static final int IOCB_FLAG_RESFD = 1;
    /** See {@link AioSubmitter}: also how long the last release may wait for the reaper. */
    private static final long REAP_TIMEOUT_NANOS = 20_000_000L;

    private static final Object POOL_LOCK = new Object();
    private static final List<AioContext> POOL = new ArrayList<>();
    private static final AtomicInteger NAMES = new AtomicInteger();

    private final LibAio lib;
    private final long ctx;
    private final ByteBuffer slots;
    private final long slotsAddress;
    private final ByteBuffer events;
    private final long eventsAddress;
    private final Pointer timeout;
    /** io_getevents' timeout that waits for nothing (libaio then returns 0 without a system call when the ring is empty). */
    private final Pointer noWait;
    /** The eventfd each iocb signals, or -1 (whoever reaps waits in io_getevents). */
    private final int resfd;
    /** Set (a volatile store) after the slot's other fields, so the reaper sees them all. */
    private final AtomicReferenceArray<IoRequest> requests = new AtomicReferenceArray<>(SLOTS);

    private final AioSubmitter[] owners = new AioSubmitter[SLOTS];
    private final int[] freeStack = new int[SLOTS];
    private int freeTop;
    /** Depth reserved by open submitters; guarded by POOL_LOCK. */
    private int reserved;

    /** Null for a polled context until its owner hands it over. */
    private volatile Thread reaper;

    private volatile boolean running = true;
    /** A polled context's owner is reaping: a nested reap from its completions is refused. */
    private boolean reaping;

    private AioContext(LibAio lib, long ctx, int resfd, boolean polled) {
        this.lib = lib;
        this.ctx = ctx;
        this.resfd = resfd;
        Runtime rt = Runtime.getSystemRuntime();
        this.slots = AlignedBuffers.allocate(SLOTS * SLOT).order(ByteOrder.LITTLE_ENDIAN);
        this.slotsAddress = Pointer.wrap(rt, slots).address();
        this.events = AlignedBuffers.allocate(SLOTS * EVENT).order(ByteOrder.LITTLE_ENDIAN);
        this.eventsAddress = Pointer.wrap(rt, events).address();
        this.timeout = Memory.allocateDirect(rt, 16);
        timeout.putLongLong(0, REAP_TIMEOUT_NANOS / 1_000_000_000L);
        timeout.putLongLong(8, REAP_TIMEOUT_NANOS % 1_000_000_000L);
        this.noWait = Memory.allocateDirect(rt, 16);
        noWait.putLongLong(0, 0);
        noWait.putLongLong(8, 0);
        for (int i = 0; i < SLOTS; i++) {
            freeStack[i] = SLOTS - 1 - i;
            // the iocb ** cell of each slot points at that slot's iocb, once and for all
            slots.putLong(i * SLOT + 64, slotsAddress + (long) i * SLOT);
        }
        this.freeTop = SLOTS;
        if (!polled) {
            Thread t = new EngineThread(this::reap, "aio-reaper-" + NAMES.incrementAndGet());
            this.reaper = t;
            t.start();
        }
    }

    /**
     * A context of its own for the calling thread, reaped by that thread ({@link #reapOwned}),
     * each completion signalling {@code eventFd}, or nothing when it is -1; null when io_setup
     * fails (the machine-wide {@code fs.aio-max-nr} is used up), and the thread's requests use
     * the devices' shared contexts as before.
     */
    static AioContext polled(LibAio lib, int eventFd) {
        Pointer ctxp = Memory.allocateDirect(Runtime.getSystemRuntime(), 8);
        ctxp.putLongLong(0, 0);
        int rc = lib.io_setup(SLOTS, ctxp);
        if (rc < 0) {
            LOG.warn("io_setup({}) for a polled AIO context failed: {}", SLOTS, NativeIo.strerror(-rc));
            return null;
        }
        return new AioContext(lib, ctxp.getLongLong(0), eventFd, true);
    }

    /**
     * A context with {@code depth} free slots reserved for one submitter: an existing one with
     * room, else a new one.
     *
     * @throws BlockDeviceException OPEN_FAILED when io_setup fails
     */
    static AioContext reserve(LibAio lib, String device, int depth) throws BlockDeviceException {
        if (depth > SLOTS) {
            throw new BlockDeviceException(
                    BlockDeviceException.Code.OPEN_FAILED,
                    device,
                    "queue depth " + depth + " exceeds an AIO context's " + SLOTS + " slots");
        }
        synchronized (POOL_LOCK) {
            for (AioContext c : POOL) {
                if (c.reserved + depth <= SLOTS) {
                    c.reserved += depth;
                    return c;
                }
            }
            Pointer ctxp = Memory.allocateDirect(Runtime.getSystemRuntime(), 8);
            ctxp.putLongLong(0, 0);
            int rc = lib.io_setup(SLOTS, ctxp);
            if (rc < 0) {
                throw new BlockDeviceException(
                        BlockDeviceException.Code.OPEN_FAILED,
                        device,
                        -rc,
                        "io_setup(" + SLOTS + ") failed: " + NativeIo.strerror(-rc),
                        null);
            }
            AioContext c = new AioContext(lib, ctxp.getLongLong(0), -1, false);
            c.reserved = depth;
            POOL.add(c);
            return c;
        }
    }

    /**
     * Gives back a submitter's reservation; the last one tears the context down. Called after
     * the submitter's requests have all finished.
     */
    void release(int depth) {
        synchronized (POOL_LOCK) {
            reserved -= depth;
            if (reserved > 0) {
                return;
            }
            POOL.remove(this);
        }
        running = false;
        if (Thread.currentThread() == reaper) {
            return; // a device closed from a completion: the reaper destroys the context as it leaves
        }
        try {
            reaper.join(60_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (reaper.isAlive()) {
            LOG.error("{} did not stop; its context stays until it leaves", reaper.getName());
        }
    }

    /** A free slot; the caller holds one of its submitter's permits, so there is one. */
    int takeSlot() {
        synchronized (freeStack) {
            return freeStack[--freeTop];
        }
    }

    /** A free slot of a polled context, or -1 when all are in flight (its slots are not reserved). */
    int tryTakeSlot() {
        synchronized (freeStack) {
            return freeTop == 0 ? -1 : freeStack[--freeTop];
        }
    }

    private void returnSlot(int slot) {
        synchronized (freeStack) {
            freeStack[freeTop++] = slot;
        }
    }

    boolean anyInFlight() {
        synchronized (freeStack) {
            return freeTop < SLOTS;
        }
    }

    /**
     * Completions the kernel has posted to this context's ring and nobody has reaped yet, read
     * from the ring's header in user space as libaio does (the context's id is the ring's
     * address: {@code struct aio_ring}'s {@code nr}, {@code head}, {@code tail} at bytes 4, 8
     * and 12). Reaps nothing, so it may be asked before deciding to reap.
     */
    int posted() {
        // the kernel writes the ring behind the JVM's back: no load may be reused from before
        VarHandle.fullFence();
        Pointer ring = Pointer.wrap(Runtime.getSystemRuntime(), ctx);
        int nr = ring.getInt(4);
        int head = ring.getInt(8);
        int tail = ring.getInt(12);
        return nr <= 0 ? 0 : Math.floorMod(tail - head, nr);
    }

    /** Fills {@code slot}'s iocb for {@code r} and records who it belongs to. */
    void fill(int slot, AioSubmitter owner, IoRequest r, int fd, short opcode, int rwFlags, long bufAddress) {
        int base = slot * SLOT;
        slots.putLong(base, slot);
        slots.putInt(base + 8, 0);
        slots.putInt(base + 12, rwFlags);
        slots.putShort(base + 16, opcode);
        slots.putShort(base + 18, (short) 0);
        slots.putInt(base + 20, fd);
        slots.putLong(base + 24, bufAddress);
        slots.putLong(base + 32, r.length);
        slots.putLong(base + 40, r.offset);
        slots.putLong(base + 48, 0);
        slots.putInt(base + 56, resfd < 0 ? 0 : IOCB_FLAG_RESFD);
        slots.putInt(base + 60, resfd < 0 ? 0 : resfd);
        owners[slot] = owner;
        requests.set(slot, r);
    }

    /** Address of {@code slot}'s iocb, for a batch's iocb pointer array. */
    long iocbAddress(int slot) {
        return slotsAddress + (long) slot * SLOT;
    }

    /** io_submit of one filled slot: 1, or -errno. */
    int submitOne(int slot) {
        return lib.io_submit(ctx, 1, slotsAddress + (long) slot * SLOT + 64);
    }

    /** io_submit of {@code n} iocb pointers at {@code pointers}: how many the kernel took, or -errno. */
    int submitBatch(long pointers, int n) {
        return lib.io_submit(ctx, n, pointers);
    }

    /** Takes back a filled slot the kernel refused; its request is the caller's to fail. */
    IoRequest abandon(int slot) {
        IoRequest r = requests.getAndSet(slot, null);
        owners[slot] = null;
        returnSlot(slot);
        return r;
    }

    /**
     * A polled context's owner reaps what has completed, without waiting ({@code waitNanos} 0),
     * or waiting up to {@code waitNanos} for at least one event; the completions run on the
     * calling thread. Returns how many were reaped; 0 from inside a completion of this context
     * (a nested reap would overwrite the events being walked).
     */
    int reapOwned(long waitNanos) {
        if (reaping) return 0;
        reaping = true;
        try {
            int n;
            if (waitNanos <= 0) {
                n = lib.io_getevents(ctx, 0, SLOTS, eventsAddress, noWait);
            } else {
                timeout.putLongLong(0, waitNanos / 1_000_000_000L);
                timeout.putLongLong(8, waitNanos % 1_000_000_000L);
                n = lib.io_getevents(ctx, 1, SLOTS, eventsAddress, timeout);
            }
            if (n <= 0) {
                if (n < 0 && n != -EINTR) {
                    LOG.error("polled AIO context: io_getevents failed: {}", NativeIo.strerror(-n));
                }
                return 0;
            }
            complete(n, "polled AIO context");
            return n;
        } finally {
            reaping = false;
        }
    }

    /**
     * The owner of a polled context lets go (on its own thread, after its last submission):
     * destroyed now when nothing is in flight, else a reaper finishes the requests and destroys
     * it as a shared context's does.
     */
    void retire() {
        running = false;
        if (!anyInFlight()) {
            int rc = lib.io_destroy(ctx);
            if (rc < 0) LOG.warn("polled AIO context: io_destroy failed: {}", NativeIo.strerror(-rc));
            return;
        }
        timeout.putLongLong(0, REAP_TIMEOUT_NANOS / 1_000_000_000L);
        timeout.putLongLong(8, REAP_TIMEOUT_NANOS % 1_000_000_000L);
        Thread t = new EngineThread(this::reap, "aio-reaper-" + NAMES.incrementAndGet());
        reaper = t;
        t.start();
    }

    private void reap() {
        String name = Thread.currentThread().getName();
        while (running || anyInFlight()) {
            int n = lib.io_getevents(ctx, 1, SLOTS, eventsAddress, timeout);
            if (n < 0) {
                if (n == -EINTR) {
                    continue;
                }
                if (!running) {
                    break; // closing
                }
                LOG.error("{}: io_getevents failed: {}", name, NativeIo.strerror(-n));
                break;
            }
            complete(n, name);
        }
        if (running) {
            return; // io_getevents failed: the context is unusable, and leaked rather than freed under a user
        }
        // only the reaper destroys the context, once it is out of libaio for good (docs/lessons.md §51)
        int rc = lib.io_destroy(ctx);
        if (rc < 0) {
            LOG.warn("{}: io_destroy failed: {}", name, NativeIo.strerror(-rc));
        }
    }

    /** Ends the requests of the first {@code n} events of the event buffer. */
    private void complete(int n, String reaperName) {
        for (int i = 0; i < n; i++) {
            int slot = (int) events.getLong(i * EVENT);
            long res = events.getLong(i * EVENT + 16);
            IoRequest r = requests.getAndSet(slot, null);
            AioSubmitter owner = owners[slot];
            owners[slot] = null;
            returnSlot(slot);
            if (r == null || owner == null) {
                LOG.error("{}: AIO event for an empty slot {}", reaperName, slot);
                continue;
            }
            owner.completed(r, res);
        }
    }
}
