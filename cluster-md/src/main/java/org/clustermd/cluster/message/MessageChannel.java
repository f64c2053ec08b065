package org.clustermd.cluster.message;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md-cluster's message channel for one array on this node: the {@code token}, {@code message},
 * {@code ack} and {@code no-new-dev} locks, the send side ({@link #lockComm}, {@link #send},
 * {@link #broadcast}) and the receive thread ({@code <md>_cluster_recv}). The lock modes at
 * every step are in the package documentation and {@code docs/md-cluster-protocol.md §b}.
 *
 * <p>Threads: the {@code ack} blocking callback only wakes the receive thread (it runs on the
 * lockspace's callback thread, which must never block); everything that waits for a lock runs on
 * the receive thread or on the sender's own thread. Messages are handled only after
 * {@link #startHandling()} (md's load_bitmaps, {@code docs/lessons.md §8}); a callback that
 * arrives earlier is remembered. One node never sends and receives at once: a sender holds the
 * receive mutex from the token grant to its release, the receive thread for a whole message
 * ({@code docs/lessons.md §2}).
 *
 * <p>Thread-safe.
 */
public final class MessageChannel implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(MessageChannel.class);

    private final String arrayName;
    private final LockSpace lockSpace;
    private final ChannelBounds bounds;
    private final MessageHandler handler;
    private final LockResource token;
    private final LockResource message;
    private final LockResource ack;
    private final NewDiskVote newDiskVote;
    private final LockSteps steps;
    private final ReceiveSteps receiveSteps;
    /** One sender per node; a semaphore, not a thread-owned lock, because a permit can pass between threads. */
    private final Semaphore sendSlot = new Semaphore(1);
    /** md's recv_mutex; a semaphore for the same reason. */
    private final Semaphore recvMutex = new Semaphore(1);

    private final ReentrantLock wakeLock = new ReentrantLock();
    private final Condition wakeUp = wakeLock.newCondition();
    /** Guarded by wakeLock. */
    private boolean bastPending;
    /** Guarded by wakeLock. */
    private boolean handling;
    /** Guarded by wakeLock. */
    private boolean stopping;
    /** Set under wakeLock: the receive side is stopped (leaving), the send side still works. */
    private volatile boolean deaf;

    private final Thread receiver;
    private final AtomicBoolean closed = new AtomicBoolean();
    /** The token kept by {@link #openHoldingToken} until {@link #endJoin}. */
    private final AtomicBoolean joinToken = new AtomicBoolean();

    private final AtomicLong sent = new AtomicLong();

    /** Work done while {@code token} is held in EX at join, right after {@code ack} is armed. */
    @FunctionalInterface
    public interface JoinCatchUp {
        void run() throws Raid1Exception;
    }

    private MessageChannel(String arrayName, LockSpace ls, ChannelBounds bounds, MessageHandler handler)
            throws DlmException {
        this.arrayName = arrayName;
        this.lockSpace = ls;
        this.bounds = bounds;
        this.handler = handler;
        this.token = ls.resource("token");
        this.message = ls.resource("message");
        this.ack = ls.resource("ack", (r, mode) -> {
            if (mode == LockMode.EX) wake();
        });
        this.steps = new LockSteps(arrayName, ls, message, bounds.token());
        this.newDiskVote = new NewDiskVote(arrayName, ls.resource("no-new-dev"), steps, bounds.token());
        this.receiveSteps = new ReceiveSteps(
                arrayName, ls, bounds, message, ack, new MessageDispatch(arrayName, ls, handler), steps);
        this.receiver = new Thread(this::receiveLoop, "cluster-recv-" + arrayName);
        this.receiver.setDaemon(true);
    }

    /**
     * md's join, the channel's part: {@code message} and {@code token} at NL; {@code token} EX
     * while {@code ack} is armed in CR ({@code docs/lessons.md §7}: no broadcast can be under way
     * then, so this node is a receiver of every later message and of no earlier one), and while
     * {@code catchUp} re-reads what an earlier message may have changed; {@code token} back to NL;
     * {@code no-new-dev} CR. The receive thread starts, but handles nothing before
     * {@link #startHandling()}.
     *
     * @throws Raid1Exception CLUSTER if a lock is not granted within its bound
     */
    public static MessageChannel open(
            String arrayName, LockSpace ls, ChannelBounds bounds, MessageHandler handler, JoinCatchUp catchUp)
            throws Raid1Exception {
        return open(arrayName, ls, bounds, handler, () -> {}, catchUp, false);
    }

    /**
     * {@link #open}, but {@code first} runs under {@code token} EX before {@code ack} is armed,
     * and the token stays held after the catch-up until {@link #endJoin}: a node that joins takes
     * its bitmap slot's lock and opens its slot under it, so no size change, which holds the
     * token from its prepare to CHANGE_CAPACITY, is half done meanwhile (docs/lessons.md §61).
     * Nothing is sent or handled before {@link #endJoin}.
     */
    public static MessageChannel openHoldingToken(
            String arrayName,
            LockSpace ls,
            ChannelBounds bounds,
            MessageHandler handler,
            JoinCatchUp first,
            JoinCatchUp catchUp)
            throws Raid1Exception {
        return open(arrayName, ls, bounds, handler, first, catchUp, true);
    }

    private static MessageChannel open(
            String arrayName,
            LockSpace ls,
            ChannelBounds bounds,
            MessageHandler handler,
            JoinCatchUp first,
            JoinCatchUp catchUp,
            boolean hold)
            throws Raid1Exception {
        MessageChannel c;
        try {
            c = new MessageChannel(arrayName, ls, bounds, handler);
        } catch (DlmException e) {
            throw new Raid1Exception(
                    Raid1Exception.Code.CLUSTER,
                    arrayName + ": creating the message locks failed: " + e.getMessage(),
                    e);
        }
        try {
            c.steps.convert(c.message, LockMode.NL, bounds.token());
            c.steps.convert(c.token, LockMode.NL, bounds.token());
            c.steps.convert(c.token, LockMode.EX, bounds.token());
            boolean keep = false;
            try {
                first.run();
                c.steps.convert(c.ack, LockMode.CR, bounds.token());
                catchUp.run();
                keep = hold;
            } finally {
                if (keep) c.joinToken.set(true);
                else c.steps.convert(c.token, LockMode.NL, bounds.token());
            }
            c.newDiskVote.rearm();
        } catch (DlmException e) {
            c.closeLocks();
            throw new Raid1Exception(
                    Raid1Exception.Code.CLUSTER,
                    arrayName + ": arming the message channel failed: " + e.getMessage(),
                    e);
        } catch (Raid1Exception | RuntimeException e) {
            c.closeLocks();
            throw e;
        }
        c.receiver.start();
        return c;
    }

    public ChannelBounds bounds() {
        return bounds;
    }

    /** Releases the token {@link #openHoldingToken} kept; once only, and nothing if it kept none. */
    public void endJoin() {
        if (joinToken.compareAndSet(true, false)) releaseToken(true);
    }

    /** md's load_bitmaps sets ALREADY_IN_CLUSTER: handle messages from now on, a remembered one first. */
    public void startHandling() {
        wakeLock.lock();
        try {
            handling = true;
            wakeUp.signalAll();
        } finally {
            wakeLock.unlock();
        }
    }

    /** Messages this node broadcast and every peer acknowledged. */
    public long messagesSent() {
        return sent.get();
    }

    /** Messages this node processed and acknowledged. */
    public long messagesReceived() {
        return receiveSteps.received();
    }

    /** Messages this node refused (not acknowledged). */
    public long messagesRefused() {
        return receiveSteps.refused();
    }

    // ------------------------------------------------------------------ send

    /**
     * md's lock_comm: waits for this node's send slot, takes {@code token} in EX, then the receive
     * mutex, each within {@link ChannelBounds#token()}. The permit may be used and released on
     * another thread.
     *
     * @throws Raid1Exception CLUSTER when the token is not granted in time, CLOSED when the channel is closed
     */
    public SendPermit lockComm() throws Raid1Exception {
        return lockComm(false);
    }

    /**
     * {@link #lockComm()}; with {@code withMessage}, {@code message} EX is taken in the same write
     * as the token when the token is free (md-cluster-protocol §b.8), as the first step of a send
     * that follows at once.
     */
    private SendPermit lockComm(boolean withMessage) throws Raid1Exception {
        long deadline = System.nanoTime() + bounds.token().toNanos();
        try {
            if (!sendSlot.tryAcquire(remaining(deadline), TimeUnit.NANOSECONDS)) {
                throw cluster(
                        "another local sender kept the token longer than "
                                + bounds.token().toMillis() + " ms",
                        null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw cluster("interrupted while waiting to send", e);
        }
        boolean tokenHeld = false;
        try {
            checkOpen();
            // the message lock is the receive thread's too: only with the receive mutex held
            if (withMessage && recvMutex.tryAcquire()) {
                Taken taken = Taken.NOTHING;
                try {
                    taken = takeTokenAndMessage(deadline);
                } finally {
                    if (taken == Taken.NOTHING) recvMutex.release();
                }
                if (taken != Taken.NOTHING) return new SendPermit(this, taken == Taken.TOKEN_AND_MESSAGE);
            }
            steps.convert(token, LockMode.EX, Duration.ofNanos(Math.max(1, remaining(deadline))));
            tokenHeld = true;
            // the receive thread finishes its message before we send (docs/lessons.md §2)
            if (!recvMutex.tryAcquire(Math.max(1, remaining(deadline)), TimeUnit.NANOSECONDS)) {
                throw cluster(
                        "the receive thread did not finish its message within "
                                + bounds.token().toMillis() + " ms",
                        null);
            }
            return new SendPermit(this, false);
        } catch (DlmException e) {
            sendSlot.release();
            throw cluster("taking the token failed: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            releaseToken(tokenHeld);
            sendSlot.release();
            throw cluster("interrupted while taking the token", e);
        } catch (Raid1Exception | RuntimeException e) {
            releaseToken(tokenHeld);
            sendSlot.release();
            throw e;
        }
    }

    /** What {@link #takeTokenAndMessage} took: the caller holds exactly that. */
    private enum Taken {
        NOTHING,
        TOKEN,
        TOKEN_AND_MESSAGE
    }

    /**
     * md's steps 1 and 2 in one write when the token is free: {@code token} EX granted at once,
     * {@code message} EX granted or queued behind the receivers still on the last message, so it
     * is never queued without the token (docs/lessons.md §66). NOTHING when the token is not free,
     * or the lock manager would not write it now.
     *
     * <p>A joint request that ends SUSPENDED may have written all the same: its grants reached
     * this node after the lease lapsed, so their completions were refused, and {@code message}
     * EX may still wait in its queue with its cancel to be written once the lease is back
     * (docs/lessons.md §69). So any failure but a refusal before writing is settled first (the
     * lease back, no request pending) and the send goes on from what is held: both locks, the
     * token alone ({@code message} then taken by the send, as md does), or nothing. Held without
     * {@code token}, {@code message} is given back. A failure for good (the message not granted
     * in time) gives back what is held.
     */
    private Taken takeTokenAndMessage(long deadline) throws DlmException {
        List<Conversion> both = List.of(Conversion.now(token, LockMode.EX), Conversion.queued(message, LockMode.EX));
        try {
            lockSpace.convertJointly(both, Duration.ofNanos(Math.max(1, remaining(deadline))));
            return Taken.TOKEN_AND_MESSAGE;
        } catch (DlmException e) {
            if (LockSteps.wroteNothing(e)) return Taken.NOTHING;
            if (!steps.settle(bounds.token(), both)) {
                if (steps.alive()) {
                    log.error(
                            "{}: the first write of a send failed ({}) and what it took is not known: token {}, message {}",
                            arrayName,
                            e.getMessage(),
                            token.grantedMode().orElse(null),
                            message.grantedMode().orElse(null));
                }
                throw e;
            }
            boolean tokenHeld = token.grantedMode().orElse(null) == LockMode.EX;
            boolean messageHeld = message.grantedMode().orElse(null) == LockMode.EX;
            if (e.code() == DlmException.Code.SUSPENDED) {
                if (tokenHeld) {
                    log.info(
                            "{}: the first write of a send was made, its grants came after a lapsed lease: going on"
                                    + " with token EX{}",
                            arrayName,
                            messageHeld ? " and message EX" : "");
                    return messageHeld ? Taken.TOKEN_AND_MESSAGE : Taken.TOKEN;
                }
                if (messageHeld) steps.releaseMessage(); // never without the token (docs/lessons.md §66)
                return Taken.NOTHING;
            }
            // written, then failed (the message not granted in time): give back what was granted
            if (messageHeld) steps.releaseMessage();
            releaseToken(tokenHeld);
            throw e;
        }
    }

    /** md's unlock_comm; called once per permit by {@link SendPermit#close()}. */
    void unlockComm(SendPermit permit, boolean tokenReleased) {
        if (permit.takeMessage()) steps.releaseMessage(); // taken with the token for a send that never came
        recvMutex.release();
        releaseToken(!tokenReleased);
        sendSlot.release();
    }

    private void releaseToken(boolean held) {
        if (!held) return;
        try {
            steps.convert(token, LockMode.NL, bounds.token());
        } catch (DlmException e) {
            log.warn("{}: releasing the token: {}", arrayName, e.getMessage());
        }
    }

    /**
     * md's __sendmsg under a held permit: {@code message} NL to EX, the message written by the
     * EX to CW conversion, {@code ack} CR to EX (granted once every peer processed the message and
     * dropped its CR), {@code ack} back to CR, {@code message} to NL. With no peer the EX is
     * granted at once: a node never sends to itself. Steps that never wait for a peer go to the
     * lock manager in one write (md-cluster-protocol §b.8): the publication with the queued
     * {@code ack} EX, and the two releases.
     *
     * @throws Raid1Exception CLUSTER when a peer did not acknowledge within {@link ChannelBounds#ack()}
     *     or a lock failed; the channel's locks are back at their idle modes either way
     */
    public void send(SendPermit permit, ClusterMessage m) throws Raid1Exception {
        send(permit, m, false);
    }

    private void send(SendPermit permit, ClusterMessage m, boolean releaseToken) throws Raid1Exception {
        if (!permit.belongsTo(this) || !permit.held())
            throw new IllegalStateException("send needs this channel's held permit");
        if (!m.type().sendable()) throw new IllegalArgumentException(m.type() + " is never sent by a RAID1 node");
        byte[] bytes = MessageCodec.encode(new Envelope(lockSpace.slot().number(), m));
        if (!permit.takeMessage()) {
            try {
                steps.convert(message, LockMode.EX, bounds.token());
            } catch (DlmException e) {
                throw cluster("taking the message lock for " + m.type() + " failed: " + e.getMessage(), e);
            }
        }
        DlmException notAcked = null;
        try {
            message.setValueBlock(LockValueBlock.of(bytes));
            steps.jointly(bounds.ack(), Conversion.now(message, LockMode.CW), Conversion.queued(ack, LockMode.EX));
        } catch (DlmException | RuntimeException e) {
            if (message.grantedMode().orElse(null) != LockMode.CW) {
                steps.releaseMessage();
                throw cluster("publishing " + m.type() + " failed: " + e.getMessage(), e);
            }
            if (e instanceof RuntimeException r) throw r;
            notAcked = (DlmException) e;
        }
        if (notAcked == null) {
            // a node that stopped receiving keeps no CR that peers' broadcasts would wait for
            releaseAfterAck(deaf ? LockMode.NL : LockMode.CR, releaseToken ? permit : null);
        } else if (ack.grantedMode().orElse(null) == LockMode.EX) {
            // granted all the same (the grant came as the wait ended): an EX left held would keep
            // every peer from re-arming its ack
            releaseAfterAck(deaf ? LockMode.NL : LockMode.CR, null);
        } else {
            steps.releaseMessage();
        }
        if (notAcked != null) {
            throw cluster(
                    m.type() + " was not acknowledged by every node within "
                            + bounds.ack().toMillis() + " ms: " + notAcked.getMessage(),
                    notAcked);
        }
        sent.incrementAndGet();
    }

    /** md's sendmsg: {@link #lockComm}, {@link #send}, release, in as few writes as the locks allow. */
    public void broadcast(ClusterMessage m) throws Raid1Exception {
        try (SendPermit p = lockComm(true)) {
            send(p, m, true);
        }
    }

    /**
     * md's step 7 after the ack: {@code ack} EX to {@code idle}, {@code message} to NL and, for a
     * broadcast ({@code permit} given), {@code token} to NL: down-conversions, so one write.
     */
    private void releaseAfterAck(LockMode idle, SendPermit permit) {
        try {
            if (permit != null) {
                steps.jointly(
                        bounds.token(),
                        Conversion.now(ack, idle),
                        Conversion.now(message, LockMode.NL),
                        Conversion.now(token, LockMode.NL));
                permit.tokenReleased();
            } else {
                steps.jointly(bounds.token(), Conversion.now(ack, idle), Conversion.now(message, LockMode.NL));
            }
            return;
        } catch (DlmException e) {
            log.warn("{}: releasing after the ack: {}; one lock at a time", arrayName, e.getMessage());
        }
        try {
            steps.convert(ack, idle, bounds.token());
        } catch (DlmException e) {
            log.warn("{}: re-arming ack after a send: {}", arrayName, e.getMessage());
        }
        steps.releaseMessage();
    }

    // ------------------------------------------------------------------ receive

    private void wake() {
        wakeLock.lock();
        try {
            bastPending = true;
            wakeUp.signalAll();
        } finally {
            wakeLock.unlock();
        }
    }

    /** Waits for a remembered callback once handling is on; false when stopping. */
    private boolean awaitWork() throws InterruptedException {
        wakeLock.lock();
        try {
            while (!stopping && !deaf && !(handling && bastPending)) wakeUp.await();
            if (stopping || deaf) return false;
            bastPending = false;
            return true;
        } finally {
            wakeLock.unlock();
        }
    }

    private void receiveLoop() {
        try {
            while (awaitWork()) {
                recvMutex.acquire();
                try {
                    receiveSteps.receiveOne();
                } finally {
                    recvMutex.release();
                }
            }
        } catch (InterruptedException e) {
            // stopping
        }
    }

    /** md's {@code no-new-dev} lock: this node's vote on the next added device. */
    public NewDiskVote newDiskVote() {
        return newDiskVote;
    }

    // ------------------------------------------------------------------ close

    /**
     * The first step of leaving (docs/md-cluster-protocol.md §c.5): the receive thread finishes
     * the message in progress (bounded) and stops, and {@code ack} drops to NL, so a peer's
     * broadcast no longer waits for this node and nothing is handled here any more. Sending
     * still works: a leaver's BITMAP_NEEDS_SYNC comes after this. Idempotent.
     */
    public void stopReceiving() {
        wakeLock.lock();
        try {
            deaf = true;
            wakeUp.signalAll();
        } finally {
            wakeLock.unlock();
        }
        awaitReceiver();
        try {
            // a send of ours converts ack too: wait until it is over (bounded like any sender)
            if (!recvMutex.tryAcquire(bounds.token().toMillis(), TimeUnit.MILLISECONDS)) {
                log.warn("{}: a local send did not end; ack stays armed until the channel closes", arrayName);
                return;
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        }
        try {
            steps.convert(ack, LockMode.NL, bounds.token());
        } catch (DlmException e) {
            if (steps.alive()) log.warn("{}: dropping ack while leaving: {}", arrayName, e.getMessage());
        } finally {
            recvMutex.release();
        }
    }

    /**
     * Stops the receive thread (waiting for a message in progress, bounded) and releases the
     * channel's locks. A broadcast from a peer then no longer waits for this node. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) return;
        wakeLock.lock();
        try {
            stopping = true;
            wakeUp.signalAll();
        } finally {
            wakeLock.unlock();
        }
        awaitReceiver();
        handler.closed();
        closeLocks();
    }

    private void awaitReceiver() {
        if (Thread.currentThread() != receiver && receiver.isAlive()) {
            try {
                receiver.join(bounds.token().toMillis() * 2);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (receiver.isAlive()) {
                log.warn("{}: the receive thread did not stop; interrupting it", arrayName);
                receiver.interrupt();
            }
        }
    }

    private void closeLocks() {
        ack.close();
        newDiskVote.close();
        message.close();
        token.close();
    }

    private void checkOpen() throws Raid1Exception {
        wakeLock.lock();
        try {
            if (stopping)
                throw new Raid1Exception(Raid1Exception.Code.CLOSED, arrayName + ": the message channel is closed");
        } finally {
            wakeLock.unlock();
        }
    }

    private static long remaining(long deadline) {
        return deadline - System.nanoTime();
    }

    private Raid1Exception cluster(String message, Throwable cause) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, arrayName + ": " + message, cause);
    }
}
