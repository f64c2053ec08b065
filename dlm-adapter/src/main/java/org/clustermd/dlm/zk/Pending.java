package org.clustermd.dlm.zk;

import java.util.EnumSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;

/**
 * One outstanding operation on a lock handle: a request (new or conversion), a republish of a
 * PW/EX value block, or an unlock. Its {@link Phase} says what the engine waits for; the engine
 * moves it with {@link #to(Phase)} only, which refuses a move the engine never makes
 * ({@link Phase#next()}): such a move is a bug in the engine, found where it happens instead of
 * as a lock that hangs later.
 *
 * <p>Not thread-safe: guarded by the owning lockspace's lock.
 */
final class Pending {
    enum Kind {
        CONVERT,
        REPUBLISH,
        UNLOCK
    }

    enum Phase {
        /** A write must be planned and submitted. */
        TO_WRITE,
        /** NOQUEUE found the request not grantable; waiting for a sync before the final answer. */
        SYNCING,
        /** Our transaction is in flight. */
        WRITING,
        /** The request is queued in ZooKeeper; waiting for a grant (or a cancel to write). */
        QUEUED,
        /** Granted PW/EX after a reconnect: reading the grant's zxid for the fencing token. */
        TOKEN_READ,
        /** The connection dropped with our write in flight; decided after the resync. */
        UNCERTAIN;

        /** The phases the engine may move to from this one. */
        Set<Phase> next() {
            return switch (this) {
                // planned: a NOQUEUE sync, our write, or our request found queued after a reconnect
                case TO_WRITE -> EnumSet.of(SYNCING, WRITING, QUEUED);
                case SYNCING -> EnumSet.of(TO_WRITE);
                // the reply: queued, a lost race, no reply, or the grant seen before the reply
                case WRITING -> EnumSet.of(QUEUED, TO_WRITE, UNCERTAIN, TOKEN_READ);
                // the cancel's write, or the grant
                case QUEUED -> EnumSet.of(WRITING, TOKEN_READ);
                // decided from the view after the resync
                case UNCERTAIN -> EnumSet.of(QUEUED, TO_WRITE);
                // the grant's znode went before its zxid was read; or the reply of a write whose
                // grant was seen before it (as from WRITING)
                case TOKEN_READ -> EnumSet.of(QUEUED, TO_WRITE, UNCERTAIN);
            };
        }
    }

    final Kind kind;
    final LockMode mode;
    final boolean noQueue;
    /** The lock's znode when the operation started, or null if no lock was held. */
    final String baseZnode;
    /** The granted mode when the operation started, or null if no lock was held. */
    final LockMode baseMode;

    final CompletableFuture<LockGrant> future = new CompletableFuture<>();

    private Phase phase = Phase.TO_WRITE;
    /** Set when a cancel is wanted; the reason the request's future fails with. */
    DlmException.Code cancelReason;
    /** True while the write in flight is the cancel. */
    boolean cancelWriting;
    /** Completed true when the cancel took effect, false when the grant won. */
    CompletableFuture<Boolean> cancelResult;
    /** NOQUEUE: a sync has been done, so "not grantable" is final. */
    boolean synced;
    /** The joint request this conversion is written with, or null (written alone). */
    JointRequest joint;

    Pending(Kind kind, LockMode mode, boolean noQueue, String baseZnode, LockMode baseMode) {
        this.kind = kind;
        this.mode = mode;
        this.noQueue = noQueue;
        this.baseZnode = baseZnode;
        this.baseMode = baseMode;
    }

    Phase phase() {
        return phase;
    }

    void to(Phase next) {
        if (!phase.next().contains(next)) {
            throw new IllegalStateException(kind + " " + mode + ": no move " + phase + " -> " + next);
        }
        phase = next;
    }

    @Override
    public String toString() {
        return kind + " " + mode + " " + phase + (cancelReason != null ? " cancel:" + cancelReason : "");
    }
}
