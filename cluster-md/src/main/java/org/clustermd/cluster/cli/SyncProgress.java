package org.clustermd.cluster.cli;

import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.ArrayListener;
import org.clustermd.raid1.AttributeChange;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.SyncReport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Prints a node's sync passes as {@link NodeProgress} lines: the start of a pass (from the
 * array's SyncAction notification), its position every 10 % while it runs, and its result once
 * it is over. Position and end are read by a {@code sync-progress} thread four times a second
 * ({@code sync_completed} and {@code sync_action}, as {@code /proc/mdstat} readers do): the
 * engine announces a pass's start but not its end (see the report of this issue).
 *
 * <p>Thread-safe: the listener only raises a flag; everything else is the poller's.
 */
final class SyncProgress implements ArrayListener, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(SyncProgress.class);
    private final Raid1Array array;
    private final NodeProgress progress;
    private final Thread poller;
    private volatile boolean closed;
    /** A pass was announced and its end not yet printed. */
    private volatile boolean passOpen;
    /** Poller-only. */
    private int lastTenth = -1;
    /** Poller-only: a late start notification must not print the same end twice. */
    private SyncReport lastReported;

    SyncProgress(Raid1Array array, NodeProgress progress) {
        this.array = array;
        this.progress = progress;
        this.poller = new Thread(this::poll, "sync-progress");
        this.poller.setDaemon(true);
        this.poller.setUncaughtExceptionHandler(
                (t, e) -> log.error("sync-progress died; no more sync progress is printed", e));
    }

    void start() {
        array.addListener(this);
        poller.start();
    }

    @Override
    public void attributeChanged(AttributeChange c) {
        if (AttributeChange.SYNC_ACTION.equals(c.attribute()) && isPass(c.newValue()) && !isPass(c.oldValue())) {
            progress.say(c.newValue() + " started");
            passOpen = true;
        }
    }

    private static boolean isPass(String word) {
        return switch (word) {
            case "resync", "recover", "recovery", "check", "repair" -> true;
            default -> false;
        };
    }

    private void poll() {
        while (!closed) {
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                return;
            }
            try {
                pollOnce();
            } catch (RuntimeException e) {
                // a reporting thread that died would leave "done" unprinted for good (issue 9 item 7)
                log.warn("sync-progress: reading the sync state failed; trying again", e);
            }
        }
    }

    private void pollOnce() {
        String status = array.syncStatus();
        if (isPass(status)) {
            passOpen = true;
            String[] done = array.syncCompleted().split(" / ");
            if (done.length != 2) return;
            long at = Long.parseLong(done[0]);
            long total = Long.parseLong(done[1]);
            int tenth = total <= 0 ? 0 : (int) Math.min(10, at * 10 / total);
            if (total > 0 && tenth > lastTenth) {
                lastTenth = tenth;
                progress.say(status + " " + (at * 100 / total) + "%");
            }
        } else if (passOpen) {
            passOpen = false;
            lastTenth = -1;
            array.lastSync().ifPresent(this::ended);
        }
    }

    private void ended(SyncReport r) {
        if (r.equals(lastReported)) return;
        lastReported = r;
        long ms = TimeUnit.NANOSECONDS.toMillis(r.nanos());
        if (r.completed()) {
            progress.say(r.action() + " done: copied " + r.bytesCopied() + " bytes in " + ms + " ms");
        } else {
            progress.say(r.action() + " stopped at sector " + r.endSector() + ": copied " + r.bytesCopied()
                    + " bytes in " + ms + " ms" + (r.failure() != null ? " (" + r.failure() + ")" : ""));
        }
    }

    @Override
    public void close() {
        closed = true;
        poller.interrupt();
        array.removeListener(this);
    }
}
