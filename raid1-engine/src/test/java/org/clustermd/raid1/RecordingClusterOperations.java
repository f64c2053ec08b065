package org.clustermd.raid1;

import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.bitmap.WriteIntentBitmap;

/**
 * A {@link StandaloneClusterOperations} that records every call with a sequence number shared
 * with {@link RecordingDevice}, lets a test suspend a range for writes or reads, and can throw
 * from one method. Only for tests of the engine's use of the SPI.
 */
public final class RecordingClusterOperations implements ClusterOperations {
    /** One call. */
    public record Call(long seq, String method, long lo, long hi) {}

    private final StandaloneClusterOperations inner = new StandaloneClusterOperations();
    private final AtomicLong seq;
    public final List<Call> calls = new CopyOnWriteArrayList<>();
    public volatile long suspendLo;
    public volatile long suspendHi;
    public volatile boolean suspendReads;
    public volatile String failIn;
    /** How many of the next resyncStart calls the "lock manager" refuses, as a suspended session does. */
    public final java.util.concurrent.atomic.AtomicInteger refuseResyncStarts =
            new java.util.concurrent.atomic.AtomicInteger();
    /**
     * Runs once, on the writer's thread, right after an {@code areaResyncing(WRITE)} answer is
     * computed and before it is returned: a test's way to start a window between a writer's
     * check and its next step.
     */
    public final AtomicReference<Runnable> afterWriteCheck = new AtomicReference<>();
    /** How many {@code areaResyncing(WRITE)} questions were asked. */
    public final AtomicLong writeChecks = new AtomicLong();
    /** The write lease a test turns off and on ({@link TestLease}). */
    public final TestLease lease = new TestLease();

    public RecordingClusterOperations(AtomicLong seq) {
        this.seq = seq;
    }

    private void record(String m, long lo, long hi) {
        calls.add(new Call(seq.incrementAndGet(), m, lo, hi));
        if (m.equals(failIn)) throw new IllegalStateException("injected failure in " + m);
    }

    @Override
    public boolean isClustered() {
        return false;
    }

    @Override
    public void join(Mddev array, int nodes) throws Raid1Exception {
        record("join", nodes, 0);
        inner.join(array, nodes);
    }

    @Override
    public WriteLease writeLease() {
        return lease;
    }

    /** A lease a test controls: valid until {@link #expire()}, again after {@link #renew()}. */
    public static final class TestLease implements WriteLease {
        private volatile boolean valid = true;
        private volatile boolean revoked;
        private final Object monitor = new Object();

        public void expire() {
            valid = false;
        }

        public void renew() {
            synchronized (monitor) {
                valid = true;
                monitor.notifyAll();
            }
        }

        public void revoke() {
            synchronized (monitor) {
                valid = false;
                revoked = true;
                monitor.notifyAll();
            }
        }

        @Override
        public boolean valid() {
            return valid;
        }

        @Override
        public long deadlineNanos() {
            return valid ? System.nanoTime() + 1_000_000_000L : System.nanoTime() - 1;
        }

        @Override
        public boolean awaitValid(long timeoutNanos) throws InterruptedException {
            long end = System.nanoTime() + timeoutNanos;
            synchronized (monitor) {
                while (!valid && !revoked) {
                    long left = end - System.nanoTime();
                    if (left <= 0) return false;
                    java.util.concurrent.TimeUnit.NANOSECONDS.timedWait(monitor, left);
                }
                return valid;
            }
        }

        @Override
        public boolean revoked() {
            return revoked;
        }
    }

    @Override
    public int slotNumber() {
        return inner.slotNumber();
    }

    @Override
    public void loadBitmaps(WriteIntentBitmap bitmap) throws Raid1Exception {
        record("loadBitmaps", 0, 0);
        inner.loadBitmaps(bitmap);
    }

    @Override
    public void handOver(boolean arrayInSync) {
        calls.add(new Call(seq.incrementAndGet(), "handOver", arrayInSync ? 1 : 0, 0));
        inner.handOver(arrayInSync);
    }

    @Override
    public void leave(boolean arrayInSync) {
        calls.add(new Call(seq.incrementAndGet(), "leave", arrayInSync ? 1 : 0, 0));
        inner.leave(arrayInSync);
    }

    @Override
    public void resyncStart() throws Raid1Exception, InterruptedException {
        record("resyncStart", 0, 0);
        if (refuseResyncStarts.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
            throw new Raid1Exception(
                    Raid1Exception.Code.CLUSTER, "taking the resync lock failed: SUSPENDED (injected)");
        }
        inner.resyncStart();
    }

    @Override
    public void resyncStartNotify() throws Raid1Exception {
        record("resyncStartNotify", 0, 0);
    }

    @Override
    public void resyncInfoUpdate(long lo, long hi) throws Raid1Exception {
        record("resyncInfoUpdate", lo, hi);
    }

    @Override
    public void resyncFinish(boolean closing) throws Raid1Exception {
        record("resyncFinish", closing ? 1 : 0, 0);
    }

    @Override
    public boolean resyncingRemote() {
        return false;
    }

    @Override
    public boolean areaResyncing(Direction direction, long lo, long hi) {
        if (direction == Direction.READ && suspendReads) return true;
        boolean inside = hi > suspendLo && lo < suspendHi;
        if (direction == Direction.WRITE) {
            writeChecks.incrementAndGet();
            Runnable r = afterWriteCheck.getAndSet(null);
            if (r != null) r.run();
        }
        return inside;
    }

    @Override
    public void metadataUpdateStart() throws Raid1Exception {
        record("metadataUpdateStart", 0, 0);
    }

    @Override
    public void metadataUpdateFinish(int goodDevNumber) throws Raid1Exception {
        record("metadataUpdateFinish", goodDevNumber, 0);
    }

    @Override
    public void metadataUpdateCancel() {
        calls.add(new Call(seq.incrementAndGet(), "metadataUpdateCancel", 0, 0));
    }

    @Override
    public int addNewDisk(UUID deviceUuid, NewDiskLabel label) throws Raid1Exception {
        int devNumber = label.write();
        record("addNewDisk", devNumber, 0);
        return devNumber;
    }

    @Override
    public void addNewDiskCancel() {
        calls.add(new Call(seq.incrementAndGet(), "addNewDiskCancel", 0, 0));
    }

    @Override
    public void removeDisk(int devNumber) throws Raid1Exception {
        record("removeDisk", devNumber, 0);
    }

    @Override
    public void gatherBitmaps(int devNumber, ReAddCheck check, WriteIntentBitmap bitmap) throws Raid1Exception {
        record("gatherBitmaps", devNumber, 0);
        inner.gatherBitmaps(devNumber, check, bitmap);
    }

    public List<Call> calls(String method) {
        return calls.stream().filter(c -> c.method().equals(method)).toList();
    }
}
