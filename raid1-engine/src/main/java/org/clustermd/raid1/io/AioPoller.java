package org.clustermd.raid1.io;

/**
 * An event loop's own AIO completions (issue 13, P5b): a thread that already sleeps in
 * {@code epoll_wait} (a network event loop) installs a poller with the eventfd its loop waits
 * on; the async requests it submits to AIO devices then go to a context of its own whose
 * completions signal that eventfd, and the thread reaps them itself ({@link #pollCurrentThread},
 * once per loop turn). A request so costs no reaper wake-up and no hand-back from the reaper to
 * the loop: two context switches fewer per completed batch on a machine where each is dear
 * (docs/nbd-cost.md). Requests from any other thread keep the devices' shared contexts and
 * their reaper.
 *
 * <p>What the owner must keep to:
 * <ul>
 * <li>It polls on every turn of its loop, and its loop wakes when the eventfd is signalled;
 *     a completion is otherwise never seen.</li>
 * <li>Completions of its requests run on it, so it is a completion thread like a reaper:
 *     nothing it runs may wait for this context's I/O. The one wait on the submission path, a
 *     device's whole queue depth in flight, reaps while it waits ({@link AioSubmitter}).</li>
 * <li>It {@link #close}s the poller on its own thread when the loop ends; requests still in
 *     flight then finish on a reaper thread started for them, which destroys the context.</li>
 * </ul>
 *
 * <p>A thread without an event loop (a submitting loop like fio's libaio job) installs one
 * without an eventfd ({@link #install()}) and, when it has nothing to submit, sleeps in
 * {@link #reap} instead of on a lock the reaper would release: the kernel wakes it for its own
 * completions, and the reaper's hop to it (a futex wake-up and a context switch per reaped
 * batch, while the device waits for the next submission) is gone (docs/datapath-cost.md, "P1 at
 * 60-70 k IOPS"). The same rules hold: a request it submits is reaped by nobody else while it
 * lives, so it never waits for one elsewhere than in {@link #reap} (an array write that may
 * block goes to another thread, as an event loop's does).
 *
 * <p>The context is created at the thread's first AIO submission, so a loop that never
 * submits uses no AIO slots of the machine's {@code fs.aio-max-nr}; when io_setup fails the
 * thread keeps using the shared contexts.
 *
 * <p>Not thread-safe: a poller belongs to the thread that installed it.
 */
public final class AioPoller implements AutoCloseable {
    private static final ThreadLocal<AioPoller> CURRENT = new ThreadLocal<>();

    private final Thread owner;
    /** The loop's eventfd each completion signals, or -1 (the owner waits in {@link #reap}). */
    private final int eventFd;

    private AioContext context;
    /** io_setup failed once: the shared contexts from then on. */
    private boolean unavailable;

    private boolean closed;

    private AioPoller(int eventFd) {
        this.owner = Thread.currentThread();
        this.eventFd = eventFd;
    }

    /**
     * Installs a poller on the calling thread: its AIO requests from now on complete by
     * signalling {@code eventFd} (an eventfd the thread's loop waits on) and are reaped by
     * {@link #pollCurrentThread}.
     *
     * @throws IllegalStateException when the thread has one already
     */
    public static AioPoller install(int eventFd) {
        if (eventFd < 0) throw new IllegalArgumentException("not an eventfd: " + eventFd);
        if (CURRENT.get() != null)
            throw new IllegalStateException(Thread.currentThread().getName() + " has an AIO poller");
        AioPoller p = new AioPoller(eventFd);
        CURRENT.set(p);
        return p;
    }

    /**
     * Installs a poller without an eventfd on the calling thread, for a thread that waits for
     * its completions in {@link #reap} rather than in an event loop.
     *
     * @throws IllegalStateException when the thread has one already
     */
    public static AioPoller install() {
        if (CURRENT.get() != null)
            throw new IllegalStateException(Thread.currentThread().getName() + " has an AIO poller");
        AioPoller p = new AioPoller(-1);
        CURRENT.set(p);
        return p;
    }

    /**
     * On the owner: waits up to {@code nanos} for at least one of this thread's requests to end
     * (not at all when none is in flight) and runs the completions of all that ended, here; how
     * many. The kernel wakes the thread for the first completion, with no other thread between.
     */
    public int reap(long nanos) {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("an AIO poller is reaped by its owner " + owner.getName());
        }
        return inFlight() ? reapWaiting(nanos) : 0;
    }

    /**
     * Reaps the calling thread's completed requests, without waiting, and runs their
     * completions here: how many ended; 0 on a thread without a poller, or when nothing is in
     * flight or done (then without a system call).
     */
    public static int pollCurrentThread() {
        AioPoller p = CURRENT.get();
        return p == null ? 0 : p.poll();
    }

    /** The calling thread's poller, or null. */
    public static AioPoller currentThread() {
        return CURRENT.get();
    }

    /** See {@link #pollCurrentThread}. */
    public int poll() {
        AioContext c = context;
        if (c == null || !c.anyInFlight()) return 0;
        return c.reapOwned(0);
    }

    /**
     * Completions of this thread's requests that the kernel has posted and no poll has reaped
     * yet: what the next {@link #poll} would end. Reaps nothing and runs no completion, so a
     * test can wait, on the owner thread, for its requests to be done without ending them.
     */
    public int posted() {
        AioContext c = context;
        return c == null ? 0 : c.posted();
    }

    /** Whether requests submitted here have not been reaped yet (so {@link #reap} has something to wait for). */
    public boolean inFlight() {
        AioContext c = context;
        return c != null && c.anyInFlight();
    }

    /** Waits up to {@code nanos} for at least one of this thread's requests to end, and ends them here. */
    int reapWaiting(long nanos) {
        AioContext c = context;
        return c == null ? 0 : c.reapOwned(nanos);
    }

    /** The context this thread submits to, created on first use; null when unavailable or closed. */
    AioContext context(AioSubmitter.LibAio lib) {
        if (context == null && !unavailable && !closed) {
            context = AioContext.polled(lib, eventFd);
            unavailable = context == null;
        }
        return closed ? null : context;
    }

    /**
     * On the owner thread, after its last submission: its requests still in flight finish on a
     * reaper thread, which then destroys the context. Idempotent.
     */
    @Override
    public void close() {
        if (Thread.currentThread() != owner) {
            throw new IllegalStateException("an AIO poller is closed by its owner " + owner.getName());
        }
        if (closed) return;
        closed = true;
        CURRENT.remove();
        AioContext c = context;
        context = null;
        if (c != null) c.retire();
    }
}
