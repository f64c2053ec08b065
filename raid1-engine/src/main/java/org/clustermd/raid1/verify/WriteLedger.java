package org.clustermd.raid1.verify;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a workload did to each 4 KiB block: every write issued, whether it was acknowledged or
 * failed, and which acknowledged write is durable (acknowledged with FUA, or acknowledged before
 * a flush that completed was issued). From that it says which contents a block may hold:
 * <ul>
 *   <li>after a clean run, the last acknowledged write, or a later write that failed (a failed
 *       write leaves its blocks unknown);</li>
 *   <li>after a crash or power cut, the last durable write or any write issued after it.</li>
 * </ul>
 * A block with no candidate write must read as zeros (never written).
 *
 * <p>The ledger assumes, as the workload guarantees, that two writes to one block are never in
 * flight at once.
 *
 * <p>Thread-safe.
 */
public final class WriteLedger {
    private enum State {
        ISSUED,
        ACKED,
        FAILED
    }

    private static final class Entry {
        final long writeId;
        State state = State.ISSUED;
        long ackSeq = Long.MAX_VALUE;

        Entry(long writeId) {
            this.writeId = writeId;
        }
    }

    private static final class History {
        final List<Entry> entries = new ArrayList<>();
        /** Index of the newest entry known durable, or -1. */
        int durable = -1;
    }

    private final Map<Long, History> blocks = new ConcurrentHashMap<>();
    private final AtomicLong ackSeq = new AtomicLong();
    private volatile long durableSeq = -1;

    private History history(long block) {
        return blocks.computeIfAbsent(block, b -> new History());
    }

    /** A write of {@code blocks} 4 KiB blocks at byte {@code offset} is about to be issued. */
    public void issued(long offset, int count, long writeId) {
        for (int i = 0; i < count; i++) {
            History h = history(offset / StampedBlock.SIZE + i);
            synchronized (h) {
                h.entries.add(new Entry(writeId));
            }
        }
    }

    /** The write completed successfully; with {@code fua} it is durable now. */
    public void acknowledged(long offset, int count, long writeId, boolean fua) {
        long seq = ackSeq.incrementAndGet();
        for (int i = 0; i < count; i++) {
            History h = history(offset / StampedBlock.SIZE + i);
            synchronized (h) {
                int idx = find(h, writeId);
                Entry e = h.entries.get(idx);
                e.state = State.ACKED;
                e.ackSeq = seq;
                if (fua) makeDurable(h, idx);
                else if (seq <= durableSeq) makeDurable(h, idx);
            }
        }
    }

    /** The write failed: its blocks may hold the old or the new contents. */
    public void failed(long offset, int count, long writeId) {
        for (int i = 0; i < count; i++) {
            History h = history(offset / StampedBlock.SIZE + i);
            synchronized (h) {
                h.entries.get(find(h, writeId)).state = State.FAILED;
            }
        }
    }

    /** A flush is being issued: returns the token to pass to {@link #flushCompleted}. */
    public long flushIssued() {
        return ackSeq.get();
    }

    /** The flush issued with {@code token} completed: every write acknowledged before it is durable. */
    public void flushCompleted(long token) {
        synchronized (this) {
            if (token > durableSeq) durableSeq = token;
        }
    }

    private static int find(History h, long writeId) {
        for (int i = h.entries.size() - 1; i >= 0; i--) if (h.entries.get(i).writeId == writeId) return i;
        throw new IllegalStateException("write " + writeId + " was never issued");
    }

    private static void makeDurable(History h, int idx) {
        if (idx > h.durable) {
            h.durable = idx;
            if (idx > 0) { // forget what can no longer matter
                h.entries.subList(0, idx).clear();
                h.durable = 0;
            }
        }
    }

    private void settleDurable(History h) {
        long ds = durableSeq;
        for (int i = h.entries.size() - 1; i > h.durable; i--) {
            Entry e = h.entries.get(i);
            if (e.state == State.ACKED && e.ackSeq <= ds) {
                makeDurable(h, i);
                return;
            }
        }
    }

    /** Every block index (byte offset / 4096) a write was ever issued to, in order. */
    public Set<Long> blocks() {
        return new TreeSet<>(blocks.keySet());
    }

    /**
     * The write ids block {@code block} may hold; {@code -1} in the set stands for "zeros"
     * (never written).
     *
     * @param crashed true after a crash or power cut, false after a clean run
     */
    public Set<Long> allowed(long block, boolean crashed) {
        History h = blocks.get(block);
        Set<Long> out = new TreeSet<>();
        if (h == null) {
            out.add(-1L);
            return out;
        }
        synchronized (h) {
            settleDurable(h);
            if (crashed) {
                if (h.durable < 0) out.add(-1L);
                for (int i = Math.max(h.durable, 0); i < h.entries.size(); i++) out.add(h.entries.get(i).writeId);
            } else {
                int lastAck = -1;
                for (int i = 0; i < h.entries.size(); i++) if (h.entries.get(i).state == State.ACKED) lastAck = i;
                if (lastAck < 0 && h.durable < 0) out.add(-1L);
                int from = Math.max(lastAck, 0);
                for (int i = from; i < h.entries.size(); i++) {
                    Entry e = h.entries.get(i);
                    if (i == lastAck || e.state != State.ACKED) out.add(e.writeId);
                }
                if (lastAck < 0 && h.durable >= 0) out.add(h.entries.get(h.durable).writeId);
            }
        }
        return out;
    }

    /** The last acknowledged write id of {@code block}, or -1. */
    public long lastAcknowledged(long block) {
        History h = blocks.get(block);
        if (h == null) return -1;
        synchronized (h) {
            for (int i = h.entries.size() - 1; i >= 0; i--)
                if (h.entries.get(i).state == State.ACKED) return h.entries.get(i).writeId;
        }
        return -1;
    }
}
