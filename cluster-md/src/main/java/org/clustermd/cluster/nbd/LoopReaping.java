package org.clustermd.cluster.nbd;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.SelectStrategy;
import io.netty.channel.SelectStrategyFactory;
import io.netty.channel.epoll.EpollEventLoop;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.IntSupplier;
import io.netty.util.concurrent.EventExecutor;
import java.lang.reflect.Field;
import java.util.ArrayDeque;
import org.clustermd.raid1.io.AioPoller;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The network loops reap their own writes' disk completions (docs/nbd-cost.md, issue 13 P5b):
 * each epoll loop installs an {@link AioPoller} with the eventfd Netty's loop already waits on
 * for its wake-ups, so a leg write issued from the loop wakes the loop itself when it
 * completes, and the loop reaps it at the top of its next turn. Before, the AIO reaper woke for
 * the completion and then woke the loop to write the reply: two context switches per batch,
 * now one.
 *
 * <p>Why Netty's own eventfd: Netty 4.1 registers no foreign descriptor in its epoll set, and
 * its loop takes an event on that eventfd for a wake-up without reading it (edge-triggered, a
 * counter it never resets), which is all an AIO completion's signal is; an extra wake-up is
 * harmless to it. The descriptor is a private field, read once by reflection; where that fails
 * (another Netty, NIO instead of epoll) the loops keep the shared AIO reaper, as before.
 *
 * <p>A loop reaps at the top of each turn and again after each socket read
 * ({@link #reapAndReply}), and the replies a reaping's completions produce are written before
 * the loop goes on: a turn reads the socket several times while the client keeps sending, and a
 * completion reaped only at the next turn's top waited for all of those reads (84 µs on
 * average at P5b's load, docs/nbd-cost.md).
 *
 * <p>Thread-safe: the strategy is stateless; each poller, and the reaping state beside it, is
 * installed, used and removed on its own loop.
 */
final class LoopReaping implements SelectStrategy, SelectStrategyFactory {
    private static final Logger log = LoggerFactory.getLogger(LoopReaping.class);

    static final LoopReaping STRATEGY = new LoopReaping();

    private static final Field EVENT_FD = eventFdField();

    /** A loop's reaping state, installed with its poller; absent on every other thread. */
    private static final ThreadLocal<Reaping> REAPING = new ThreadLocal<>();

    /** Whether the loop is inside {@link #reapAndReply}. */
    private enum Phase {
        IDLE,
        /** Reaping, then running the drains the reaped completions asked for. */
        REAPING
    }

    /**
     * The drains that the completions of the loop's current reaping asked for. Only a completion
     * running inside a reaping on its own connection's loop puts its drain here; every other
     * completion (another thread's, or one on the loop outside a reaping) schedules its drain as
     * a task, as before.
     */
    private static final class Reaping {
        Phase phase = Phase.IDLE;
        final ArrayDeque<Runnable> drains = new ArrayDeque<>();
    }

    private LoopReaping() {}

    @Override
    public SelectStrategy newSelectStrategy() {
        return this;
    }

    /**
     * Netty's default (sleep in epoll_wait only when no task is queued), after reaping what the
     * loop's writes completed and writing their replies.
     */
    @Override
    public int calculateStrategy(IntSupplier selectSupplier, boolean hasTasks) throws Exception {
        int reaped = reapAndReply();
        return hasTasks || reaped > 0 ? selectSupplier.get() : SelectStrategy.SELECT;
    }

    /**
     * Reaps the calling loop's completed writes, then runs at once the drains their completions
     * asked for (their replies are written and flushed here); how many completions it reaped.
     * On a thread without a poller it only polls (nothing to reap), and inside another reaping
     * of the same loop it only reaps: the outer one runs what that asks for.
     *
     * <p>Why running the drains here is safe, wherever the loop calls this (the top of a turn,
     * the end of a socket read):
     * <ul>
     * <li>A drain never waits: it writes replies, and what it releases (a FLUSH waiting for
     *     earlier writes) goes to the submission thread, so the loop's rule holds
     *     (docs/lessons.md §63). It only runs earlier than as a task, on the same thread.</li>
     * <li>Every drain taken runs, even when the reap or another drain throws: a connection whose
     *     drain was taken has its queue marked scheduled, and would otherwise never be drained
     *     again. One that cannot run now (an Error) stays queued for the next reaping.</li>
     * <li>Nothing about a reply changes but its moment: it is written after its request's
     *     target future completed (so a FUA write's or a FLUSH's reply still follows
     *     durability), NBD matches replies by handle in any order, and a reply written to a
     *     channel that closed meanwhile fails its write and frees its slot, as from a task.</li>
     * <li>A socket read calls this only after its submit batch closed and its cumulation was
     *     trimmed, so a drain that resumes a paused connection finds it between reads. Netty
     *     never reads the socket from inside a write or flush (a read a resume asks for is
     *     queued as a task), so this is not re-entered from its own drains.</li>
     * </ul>
     */
    static int reapAndReply() {
        Reaping r = REAPING.get();
        if (r == null || r.phase != Phase.IDLE) return AioPoller.pollCurrentThread();
        r.phase = Phase.REAPING;
        try {
            return AioPoller.pollCurrentThread();
        } finally {
            try {
                runDrains(r.drains);
            } finally {
                r.phase = Phase.IDLE;
            }
        }
    }

    private static void runDrains(ArrayDeque<Runnable> drains) {
        // a drain may ask for another (a write it lets through that fails at once): same queue
        Runnable d;
        while ((d = drains.poll()) != null) {
            try {
                d.run();
            } catch (RuntimeException e) { // as Netty treats a failing task: logged, the loop goes on
                log.warn("NBD server: a reply drain failed", e);
            }
        }
    }

    /**
     * Takes {@code drain} to run at the end of the calling loop's current reaping; false when
     * the caller is not inside one (then it schedules the drain as a task). The caller must be
     * the loop that owns {@code drain}'s connection.
     */
    static boolean runAfterReaping(Runnable drain) {
        Reaping r = REAPING.get();
        if (r == null || r.phase != Phase.REAPING) return false;
        r.drains.add(drain);
        return true;
    }

    /** Installs a poller on every loop of {@code group} that is an epoll loop; false when none could be. */
    static boolean install(EventLoopGroup group) {
        if (EVENT_FD == null) return false;
        boolean all = true;
        for (EventExecutor e : group) {
            int fd = eventFd(e);
            if (fd < 0) {
                all = false;
                continue;
            }
            e.submit(() -> {
                        AioPoller.install(fd);
                        REAPING.set(new Reaping());
                    })
                    .syncUninterruptibly();
        }
        return all;
    }

    /** Closes the poller of every loop of {@code group}, on the loop (the loops are still running). */
    static void uninstall(EventLoopGroup group) {
        if (EVENT_FD == null) return;
        for (EventExecutor e : group) {
            if (e.isShuttingDown()) continue;
            e.submit(() -> {
                        AioPoller p = AioPoller.currentThread();
                        if (p != null) p.close();
                        // no drain can be queued here: a reaping runs all it takes before it returns
                        REAPING.remove();
                    })
                    .awaitUninterruptibly();
        }
    }

    private static int eventFd(EventExecutor e) {
        if (!(e instanceof EpollEventLoop)) return -1;
        try {
            FileDescriptor fd = (FileDescriptor) EVENT_FD.get(e);
            return fd == null || !fd.isOpen() ? -1 : fd.intValue();
        } catch (IllegalAccessException | RuntimeException x) {
            log.info(
                    "NBD server: the loop's eventfd is not readable ({}); its writes are reaped by the AIO reaper",
                    x.toString());
            return -1;
        }
    }

    private static Field eventFdField() {
        try {
            Field f = EpollEventLoop.class.getDeclaredField("eventFd");
            if (f.getType() != FileDescriptor.class) return null;
            f.setAccessible(true);
            return f;
        } catch (NoClassDefFoundError | ReflectiveOperationException | RuntimeException x) {
            log.info(
                    "NBD server: Netty's epoll loop has no readable eventfd ({}); writes are reaped by the AIO reaper",
                    x.toString());
            return null;
        }
    }
}
