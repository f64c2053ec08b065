package org.clustermd.raid1.io;

/**
 * A thread of the engine on which I/O futures complete: a leg's AIO reaper or I/O worker, the
 * fault injector's timer, an array's md, raid1d and event threads.
 *
 * <p>Code that runs there (the callbacks a caller chains on a future it got from a device or an
 * array) must never wait for the engine's own I/O, because that I/O may need this very thread
 * to complete: a write that needs a new bitmap bit waits for the bit's flush, and the reaper that
 * would complete the flush is the thread that is waiting. md has the same rule for a bio's
 * {@code end_io}, which runs in interrupt context and must not sleep. So an array hands requests
 * submitted on an engine thread to a thread that may block, and its blocking calls fail at once
 * on an engine thread instead of hanging (see {@code Raid1Array}).
 */
public final class EngineThread extends Thread {
    /** A daemon thread named {@code name} running {@code task}. */
    public EngineThread(Runnable task, String name) {
        super(task, name);
        setDaemon(true);
    }

    /** Whether the calling thread is one of the engine's completion threads. */
    public static boolean current() {
        return Thread.currentThread() instanceof EngineThread;
    }
}
