package org.clustermd.raid1;

import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.BlockDeviceException;
import org.clustermd.raid1.io.EngineThread;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one place an array's leg writes pass the {@link WriteLease} (docs/lessons.md §31, issue 9
 * item 1): every leg of the array is a {@link LeasedDevice} of one LeaseHold, so data writes,
 * bitmap pages, superblocks, resync and recovery writes, and whatever cluster-md writes through
 * the bitmap (a dead node's slot) all take the same check, immediately before the write is
 * handed to the device.
 *
 * <p>While the lease is valid a write goes straight to the device: one volatile read and one
 * clock compare, nothing allocated, no lock-manager call. Otherwise it is <b>held</b>: queued,
 * not issued and not failed, and its future stays incomplete. The {@code lease-hold-<array>}
 * thread (started at the first hold) waits for the lease and issues the held writes while it is
 * valid, checking it again before each one. Held writes fail, with
 * {@link BlockDeviceException.Code#NOT_ISSUED}, only after the array fenced itself: when the
 * lease is revoked (the session is lost: {@link FenceReason#CLUSTER_SESSION_LOST}), when the
 * oldest held write waited the array's I/O bound ({@link FenceReason#LEASE_EXPIRED}: a node that
 * cannot prove its session for that long must assume its slot is being recovered), or when the
 * array fenced for any other reason. The array is fenced before any held write fails, so a
 * failed held write is never mistaken for a broken leg.
 *
 * <p>No thread waits for a held write inside {@link #hold}: the submitting thread gets a future
 * (an engine thread submitting from a completion is never blocked), and the lease is renewed by
 * the lock manager's own threads, never by one that may be held here. The hold thread is an
 * {@link EngineThread}, so a completion that runs on it and submits a request hands that request
 * to the array's submit thread instead of blocking the hold thread.
 *
 * <p>Thread-safe.
 */
final class LeaseHold {
    private static final Logger log = LoggerFactory.getLogger(LeaseHold.class);
    /** How often a waiting hold thread looks for a fence it was not woken for. */
    private static final long SLICE_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final WriteLease lease;
    private final long boundNanos;
    private final ConcurrentLinkedQueue<Held> held = new ConcurrentLinkedQueue<>();
    private final Object monitor = new Object();
    private volatile Fence fence;
    private volatile String name;
    /** Guarded by monitor. */
    private Thread thread;
    /** Guarded by monitor. */
    private boolean closed;

    private record Held(
            BlockDevice device, long offset, ByteBuffer src, boolean fua, long since, CompletableFuture<Void> future) {}

    LeaseHold(String name, WriteLease lease, long boundNanos) {
        this.name = name;
        this.lease = lease;
        this.boundNanos = boundNanos;
    }

    /** The fence of the array, taken when held writes must fail; set once the array exists. */
    void attach(Fence a) {
        this.fence = a;
        this.name = a.name();
        a.failHeldWritesWith(this::failHeldForFence);
    }

    /**
     * The fence's first step. On the hold thread (it fences the array itself) the held writes fail
     * here, their completions on an engine thread as always; any other fencer only wakes the hold
     * thread, which fails them, so no completion runs on a thread that may not block.
     */
    private void failHeldForFence() {
        synchronized (monitor) {
            if (Thread.currentThread() != thread) {
                monitor.notifyAll();
                return;
            }
        }
        Fence a = fence;
        failAll("the array is fenced (" + (a == null ? "?" : a.reason().orElseThrow()) + ")");
    }

    /** {@code device} as a leg of this array: its writes pass the lease. */
    BlockDevice guard(BlockDevice device) {
        return device instanceof LeasedDevice d && d.hold() == this ? d : new LeasedDevice(device, this);
    }

    WriteLease lease() {
        return lease;
    }

    /** Writes held now. */
    int heldWrites() {
        return held.size();
    }

    /** Queues a write the lease did not allow; it is issued when the lease is valid again. */
    CompletableFuture<Void> hold(BlockDevice device, long offset, ByteBuffer src, boolean fua) {
        CompletableFuture<Void> f = new CompletableFuture<>();
        synchronized (monitor) {
            if (closed) {
                f.completeExceptionally(notIssued(device, "the array is closed"));
                return f;
            }
            if (held.isEmpty()) {
                log.warn(
                        "{}: write lease not valid (deadline {} ms ago): holding leg writes",
                        name,
                        TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - lease.deadlineNanos()));
            }
            held.add(new Held(device, offset, src, fua, System.nanoTime(), f));
            if (thread == null) {
                thread = new EngineThread(this::run, "lease-hold-" + name);
                thread.setUncaughtExceptionHandler((t, e) -> failed(e));
                thread.start();
            }
            monitor.notifyAll();
        }
        return f;
    }

    /** Stops the hold thread; writes still held fail as not issued. */
    void close() {
        Thread t;
        synchronized (monitor) {
            closed = true;
            t = thread;
            monitor.notifyAll();
        }
        if (t != null && t != Thread.currentThread()) {
            t.interrupt();
            try {
                t.join(TimeUnit.SECONDS.toMillis(10));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        failAll("the array is closed");
    }

    private void run() {
        try {
            while (true) {
                synchronized (monitor) {
                    while (held.isEmpty() && !closed) monitor.wait();
                    if (closed) return;
                }
                Fence a = fence;
                if (a != null && a.isFenced()) {
                    failAll("the array is fenced (" + a.reason().orElseThrow() + ")");
                } else if (lease.valid()) {
                    issueWhileValid();
                } else if (lease.revoked()) {
                    fenceThenFail(
                            FenceReason.CLUSTER_SESSION_LOST, "the write lease was revoked (the session is lost)");
                } else {
                    Held oldest = held.peek();
                    long left = oldest == null ? 0 : oldest.since() + boundNanos - System.nanoTime();
                    if (oldest != null && left <= 0) {
                        fenceThenFail(
                                FenceReason.LEASE_EXPIRED,
                                "the write lease stayed invalid for " + TimeUnit.NANOSECONDS.toMillis(boundNanos)
                                        + " ms");
                    } else if (left > 0) {
                        lease.awaitValid(Math.min(left, SLICE_NANOS));
                    }
                }
            }
        } catch (InterruptedException e) {
            // closing
        }
    }

    private void issueWhileValid() {
        int n = 0;
        for (Held h; (h = held.peek()) != null; ) {
            if (!lease.valid()) return; // checked again before each write: it may run out meanwhile
            if (!held.remove(h)) continue;
            issue(h);
            n++;
        }
        if (n > 0) log.info("{}: write lease valid again: {} held leg writes issued", name, n);
    }

    private static void issue(Held h) {
        CompletableFuture<Void> f;
        try {
            f = h.device().writeAsync(h.offset(), h.src(), h.fua());
        } catch (RuntimeException e) { // writeAsync never throws; keep the promise anyway
            f = CompletableFuture.failedFuture(e);
        }
        f.whenComplete((v, t) -> {
            if (t == null) h.future().complete(null);
            else h.future().completeExceptionally(t);
        });
    }

    private void fenceThenFail(FenceReason reason, String why) {
        Fence a = fence;
        IllegalStateException cause =
                new IllegalStateException(name + ": " + why + "; " + held.size() + " leg writes held were not issued");
        if (a != null) a.fence(reason, cause);
        failAll(why);
    }

    private void failed(Throwable e) {
        log.error("{}: the lease hold thread died", name, e);
        Fence a = fence;
        if (a != null) a.fence(FenceReason.CRITICAL_THREAD_FAILED, e);
        failAll("the lease hold thread died: " + e);
    }

    private void failAll(String why) {
        for (Held h; (h = held.poll()) != null; ) h.future().completeExceptionally(notIssued(h.device(), why));
    }

    private static BlockDeviceException notIssued(BlockDevice d, String why) {
        return new BlockDeviceException(BlockDeviceException.Code.NOT_ISSUED, d.name(), "write not issued: " + why);
    }

    @Override
    public String toString() {
        return "LeaseHold[" + name + ", " + lease + ", " + held.size() + " held]";
    }
}
