package org.clustermd.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * The resync windows peers announced (md's {@code suspend_list}): for each slot that resyncs,
 * the range {@code [lo, hi)} it works on now, where this node holds its writes and reads from the
 * first in-sync leg. A window is set by RESYNCING from its slot or read from the slot's bitmap
 * lock at load, replaced by the slot's next window, and cleared by RESYNCING(0, 0) or the slot's
 * death (docs/md-cluster-protocol.md §e.4). This class owns the windows; it does nothing else.
 *
 * <p>Thread-safe: changes serialize on this object's monitor and publish an immutable snapshot
 * in a volatile field, which the data path reads without a lock. {@code changed} runs after
 * every change, outside the monitor (it wakes the writers waiting for a window).
 */
final class ResyncWindows {
    /** One slot's window, half-open, in array sectors; {@code hi > lo}. */
    record Window(int slot, long lo, long hi) {
        boolean overlaps(long from, long to) {
            return from < hi && lo < to;
        }
    }

    private static final Window[] NONE = new Window[0];

    private final Runnable changed;
    private volatile Window[] windows = NONE;

    ResyncWindows(Runnable changed) {
        this.changed = Objects.requireNonNull(changed, "changed");
    }

    /**
     * Slot {@code slot} resyncs {@code [lo, hi)} now, instead of its previous window; an empty
     * range ({@code hi <= lo}, md's (0, 0)) clears it.
     *
     * @return whether the windows changed
     */
    boolean set(int slot, long lo, long hi) {
        if (slot < 0 || lo < 0) throw new IllegalArgumentException("bad window " + slot + ": [" + lo + ", " + hi + ")");
        Window next = hi > lo ? new Window(slot, lo, hi) : null;
        synchronized (this) {
            List<Window> out = new ArrayList<>(windows.length + 1);
            Window previous = null;
            for (Window w : windows) {
                if (w.slot() == slot) previous = w;
                else out.add(w);
            }
            if (Objects.equals(previous, next)) return false;
            if (next != null) out.add(next);
            windows = out.toArray(NONE);
        }
        changed.run();
        return true;
    }

    /** Slot {@code slot} ended its resync or died. @return whether it had a window */
    boolean clear(int slot) {
        return set(slot, 0, 0);
    }

    /** Whether some peer's window overlaps {@code [lo, hi)}. Never blocks. */
    boolean overlaps(long lo, long hi) {
        for (Window w : windows) {
            if (w.overlaps(lo, hi)) return true;
        }
        return false;
    }

    /** Whether any peer resyncs now (md's MD_RESYNCING_REMOTE). */
    boolean any() {
        return windows.length > 0;
    }

    Optional<Window> of(int slot) {
        for (Window w : windows) {
            if (w.slot() == slot) return Optional.of(w);
        }
        return Optional.empty();
    }

    List<Window> all() {
        return List.of(windows);
    }
}
