package org.clustermd.cluster.nbd;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.SelectStrategy;
import io.netty.channel.SelectStrategyFactory;
import io.netty.channel.epoll.EpollEventLoop;
import io.netty.channel.unix.FileDescriptor;
import io.netty.util.IntSupplier;
import io.netty.util.concurrent.EventExecutor;
import java.lang.reflect.Field;
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
 * <p>Thread-safe: the strategy is stateless, and each poller is installed, polled and closed on
 * its own loop.
 */
final class LoopReaping implements SelectStrategy, SelectStrategyFactory {
    private static final Logger log = LoggerFactory.getLogger(LoopReaping.class);

    static final LoopReaping STRATEGY = new LoopReaping();

    private static final Field EVENT_FD = eventFdField();

    private LoopReaping() {}

    @Override
    public SelectStrategy newSelectStrategy() {
        return this;
    }

    /**
     * Netty's default (sleep in epoll_wait only when no task is queued), after reaping what the
     * loop's writes completed: their replies are queued as tasks, so the loop does not sleep
     * before writing them.
     */
    @Override
    public int calculateStrategy(IntSupplier selectSupplier, boolean hasTasks) throws Exception {
        int reaped = AioPoller.pollCurrentThread();
        return hasTasks || reaped > 0 ? selectSupplier.get() : SelectStrategy.SELECT;
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
            e.submit(() -> AioPoller.install(fd)).syncUninterruptibly();
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
