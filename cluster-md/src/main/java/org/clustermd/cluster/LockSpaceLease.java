package org.clustermd.cluster;

import java.time.Duration;
import java.util.function.Supplier;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockSpaceState;
import org.clustermd.raid1.WriteLease;

/**
 * The engine's {@link WriteLease} on a {@link LockSpace}'s lease: valid while the session is
 * ACTIVE and before {@link LockSpace#leaseDeadlineNanos()} (a holder's belief in its bitmap lock
 * ends there or at SUSPENDED, never at LOST: docs/md-cluster-protocol.md, the fence); not valid
 * before the lockspace exists; revoked once the session is LOST or the lockspace CLOSED.
 *
 * <p>{@link #valid()} reads volatile fields and the clock; no ZooKeeper call, no allocation.
 * {@link #awaitValid} is woken by the lockspace itself (its session thread), never by an engine
 * thread.
 *
 * <p>Thread-safe.
 */
public final class LockSpaceLease implements WriteLease {
    private final Supplier<LockSpace> lockSpace;

    /** @param lockSpace the lockspace once joined, null before */
    public LockSpaceLease(Supplier<LockSpace> lockSpace) {
        this.lockSpace = lockSpace;
    }

    @Override
    public boolean valid() {
        LockSpace ls = lockSpace.get();
        return ls != null && ls.leaseValid();
    }

    @Override
    public long deadlineNanos() {
        LockSpace ls = lockSpace.get();
        if (ls == null || ls.state() != LockSpaceState.ACTIVE) return System.nanoTime() - 1;
        return ls.leaseDeadlineNanos();
    }

    @Override
    public boolean awaitValid(long timeoutNanos) throws InterruptedException {
        LockSpace ls = lockSpace.get();
        if (ls == null) {
            Thread.sleep(Math.max(1, Math.min(100, timeoutNanos / 1_000_000)));
            return valid();
        }
        return ls.awaitLease(Duration.ofNanos(Math.max(0, timeoutNanos)));
    }

    @Override
    public boolean revoked() {
        LockSpace ls = lockSpace.get();
        if (ls == null) return false;
        LockSpaceState s = ls.state();
        return s == LockSpaceState.LOST || s == LockSpaceState.CLOSED;
    }

    @Override
    public String toString() {
        LockSpace ls = lockSpace.get();
        return "LockSpaceLease[" + (ls == null ? "not joined" : ls.name() + " " + ls.state()) + "]";
    }
}
