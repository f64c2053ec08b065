package org.clustermd.raid1.io;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jnr.ffi.Pointer;
import jnr.ffi.Runtime;

/**
 * A submission plug (md's {@code blk_start_plug}/{@code blk_finish_plug}): between {@link #start}
 * and {@link #close} on one thread, async requests to AIO devices are prepared but not yet handed
 * to the kernel; {@link #close} submits those that share an {@link AioContext} in one
 * {@code io_submit}. A mirrored write plugs around its legs' writes, so both legs cost one system
 * call instead of two (docs/datapath-cost.md). Requests to other engines, or any device that is
 * not AIO, are issued at once as without a plug.
 *
 * <p>A caller that issues several writes back to back may open a {@link #batch} around them:
 * the plugs of the writes inside then hold their requests until the batch closes, so several
 * mirrored writes share one {@code io_submit} (fio's {@code iodepth_batch}).
 *
 * <p>Owns the prepared slots of its thread and a small direct array of iocb pointers; one plug
 * per thread, reused, so plugging allocates nothing. Nested {@link #start} calls share the
 * outer plug; the outermost {@link #close} submits (unless a batch is open). A submitter about
 * to wait for a free slot, and the array's blocking write path, flush what the plug holds first,
 * so a held request is never waited for by its own thread.
 *
 * <p>Not thread-safe: a plug belongs to the thread that started it.
 */
public final class IoPlug implements AutoCloseable {
    /** Prepared requests held before a flush is forced. */
    private static final int CAPACITY = 16;

    private static final ThreadLocal<IoPlug> CURRENT = new ThreadLocal<>();

    private final AioContext[] contexts = new AioContext[CAPACITY];
    private final AioSubmitter[] owners = new AioSubmitter[CAPACITY];
    private final int[] slots = new int[CAPACITY];
    private final ByteBuffer pointers;
    private final long pointersAddress;
    private int count;
    private int nesting;
    /** Open {@link #batch} scopes: while any is open, closing a plug section only holds. */
    private int batches;
    /** The one scope object {@link #batch} returns on this thread, so a batch allocates nothing. */
    private final Batch batchScope = this::endBatch;
    /** A refused request's failure runs callbacks here; what they submit goes out unplugged. */
    private boolean flushing;

    private IoPlug() {
        this.pointers = AlignedBuffers.allocate(CAPACITY * 8).order(ByteOrder.LITTLE_ENDIAN);
        this.pointersAddress =
                Pointer.wrap(Runtime.getSystemRuntime(), pointers).address();
    }

    /** Plugs the calling thread (or nests inside its plug); close it in a finally block. */
    public static IoPlug start() {
        IoPlug p = CURRENT.get();
        if (p == null) {
            p = new IoPlug();
            CURRENT.set(p);
        }
        p.nesting++;
        return p;
    }

    /**
     * Opens a batch on the calling thread (fio's {@code iodepth_batch}): the requests plugged by
     * mirrored writes issued inside are held until the batch closes, then submitted together, so
     * several writes share one {@code io_submit} and, above two iocbs, one kernel plug and one
     * device notification. Only for a caller that issues non-blocking requests inside
     * ({@code Raid1Array.tryWriteAsync}); it must close the batch, or {@link #flushHeld()},
     * before anything that may wait, because what waits could be waiting for a held request.
     * The array's own blocking steps and a wait for an AIO slot flush what is held first.
     */
    public static Batch batch() {
        IoPlug p = start();
        p.nesting--;
        p.batches++;
        return p.batchScope;
    }

    /** A batch scope; closing it submits what it held. */
    @FunctionalInterface
    public interface Batch extends AutoCloseable {
        @Override
        void close();
    }

    private void endBatch() {
        if (--batches == 0 && nesting == 0) flush();
    }

    /** Submits whatever the calling thread's plug holds (before the thread may wait). */
    public static void flushHeld() {
        IoPlug p = CURRENT.get();
        if (p != null && p.count > 0 && !p.flushing) p.flush();
    }

    /** The calling thread's plug while it is plugged, else null. */
    static IoPlug current() {
        IoPlug p = CURRENT.get();
        return p != null && p.nesting > 0 && !p.flushing ? p : null;
    }

    /** Holds a filled slot of {@code context} until the flush. */
    void add(AioContext context, AioSubmitter owner, int slot) {
        if (count == CAPACITY) flush();
        contexts[count] = context;
        owners[count] = owner;
        slots[count] = slot;
        count++;
    }

    /** Unplugs (the outermost close submits what was prepared). */
    @Override
    public void close() {
        if (--nesting == 0 && batches == 0) flush();
    }

    /**
     * Submits every prepared request now: one {@code io_submit} per context (more only when the
     * kernel takes part of a batch). A request the kernel refuses fails through its submitter.
     */
    void flush() {
        if (flushing) {
            // a plug opened and closed by a callback of a refused request: the outer flush is
            // still walking the prepared slots, and nothing was added meanwhile (current() is null)
            return;
        }
        flushing = true;
        try {
            submitPrepared();
        } finally {
            flushing = false;
        }
    }

    private void submitPrepared() {
        int done = 0;
        while (done < count) {
            AioContext c = contexts[done];
            // the prepared requests of c, in order, form the batch; others wait for the next pass
            int n = 0;
            for (int i = done; i < count; i++) {
                if (contexts[i] != c) continue;
                pointers.putLong(n * 8, c.iocbAddress(slots[i]));
                swap(done + n, i);
                n++;
            }
            int taken = 0;
            while (taken < n) {
                int rc = c.submitBatch(pointersAddress + taken * 8L, n - taken);
                if (rc == -AioSubmitter.EINTR || rc == -AioSubmitter.EAGAIN) continue;
                if (rc > 0) {
                    taken += rc;
                    continue;
                }
                // nothing was taken: the first one is refused, the rest are tried again
                owners[done + taken].refused(c, slots[done + taken], rc);
                taken++;
            }
            done += n;
        }
        for (int i = 0; i < count; i++) {
            contexts[i] = null;
            owners[i] = null;
        }
        count = 0;
    }

    private void swap(int a, int b) {
        if (a == b) return;
        AioContext c = contexts[a];
        contexts[a] = contexts[b];
        contexts[b] = c;
        AioSubmitter o = owners[a];
        owners[a] = owners[b];
        owners[b] = o;
        int s = slots[a];
        slots[a] = slots[b];
        slots[b] = s;
    }
}
