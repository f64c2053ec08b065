package org.clustermd.dlm.zk;

import java.time.Duration;
import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.clustermd.dlm.BlockingListener;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.LockEntry.LockKey;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A lock handle of a {@link ZkLockSpace}. The engine state (pending operation, basts already
 * sent, value block) is guarded by the lockspace's lock and changed only by the lockspace; the
 * mode and token users read are published by the ordered callback queue, so a user never sees a
 * grant before the callbacks that precede it.
 *
 * <p>Thread-safe.
 */
final class ZkLockResource implements LockResource {
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockResource.class);

    final ZkLockSpace space;
    final ResourceState resource;
    final LockKey key;
    final BlockingListener blockingListener;

    // written under space's lock; volatile so that a stale write reply can tell, without the
    // lock, that its request was completed from the view and replaced
    volatile Pending pending;
    LockValueBlock valueBlock;
    final Set<String> basted = new HashSet<>();

    // published in callback order
    private volatile LockMode visibleGranted;
    private volatile LockMode visibleRequested;
    private volatile long visibleToken;
    private volatile LockValueBlock visibleValueBlock;

    ZkLockResource(
            ZkLockSpace space, ResourceState resource, LockKey key, BlockingListener listener, LockValueBlock initial) {
        this.space = space;
        this.resource = resource;
        this.key = key;
        this.blockingListener = listener;
        this.valueBlock = initial;
        this.visibleValueBlock = initial;
    }

    void publish(LockMode granted, long token, LockValueBlock lvb) {
        visibleGranted = granted;
        visibleToken = token;
        visibleValueBlock = lvb;
        visibleRequested = null;
    }

    void publishRequested(LockMode requested) {
        visibleRequested = requested;
    }

    @Override
    public String name() {
        return resource.name;
    }

    @Override
    public Optional<LockMode> grantedMode() {
        return Optional.ofNullable(visibleGranted);
    }

    @Override
    public Optional<LockMode> requestedMode() {
        return Optional.ofNullable(visibleRequested);
    }

    @Override
    public LockValueBlock valueBlock() {
        return visibleValueBlock;
    }

    @Override
    public void setValueBlock(LockValueBlock value) {
        space.resources.setValueBlock(this, value);
    }

    @Override
    public long fencingToken() {
        return visibleToken;
    }

    @Override
    public CompletableFuture<LockGrant> convertAsync(LockMode mode) {
        return space.engine.request(this, mode, false);
    }

    @Override
    public LockGrant convert(LockMode mode) throws DlmException {
        return convert(mode, space.requestTimeout());
    }

    @Override
    public LockGrant convert(LockMode mode, Duration timeout) throws DlmException {
        CompletableFuture<LockGrant> f = space.engine.request(this, mode, false);
        try {
            return await(f, timeout);
        } catch (TimeoutException e) {
            if (cancelQuietly()) {
                throw new DlmException(
                        DlmException.Code.TIMEOUT,
                        "request for " + mode + " on " + name() + " not granted within " + timeout.toMillis()
                                + " ms; cancelled");
            }
            return awaitDone(f);
        } catch (DlmException e) {
            if (e.code() == DlmException.Code.INTERRUPTED) {
                // The request is still in the lock manager. Cancel it and learn the outcome with the
                // interrupt set aside (restored below): waits that fail at once on the interrupt
                // would leave a conversion queued that is granted later to a caller that believes it
                // failed, and an interrupted thread could not release what it holds (docs/lessons.md §56).
                boolean interrupted = Thread.interrupted();
                try {
                    if (!cancelQuietly()) return awaitDone(f); // granted before the cancel: the caller holds it
                } finally {
                    if (interrupted) Thread.currentThread().interrupt();
                }
            }
            throw e;
        }
    }

    @Override
    public LockGrant tryConvert(LockMode mode) throws DlmException {
        CompletableFuture<LockGrant> f = space.engine.request(this, mode, true);
        try {
            return awaitOutcome(f, space.requestTimeout());
        } catch (TimeoutException e) {
            cancelQuietly();
            throw new DlmException(
                    DlmException.Code.TIMEOUT,
                    "NOQUEUE request for " + mode + " on " + name() + " got no answer within "
                            + space.requestTimeout().toMillis() + " ms");
        }
    }

    @Override
    public boolean cancel() throws DlmException {
        try {
            return awaitOutcome(space.engine.cancel(this, DlmException.Code.CANCELLED), space.requestTimeout());
        } catch (TimeoutException e) {
            throw new DlmException(
                    DlmException.Code.TIMEOUT,
                    "cancel on " + name() + " got no answer within "
                            + space.requestTimeout().toMillis() + " ms");
        }
    }

    boolean cancelQuietly() {
        try {
            return awaitOutcome(space.engine.cancel(this, DlmException.Code.TIMEOUT), space.requestTimeout());
        } catch (DlmException | TimeoutException e) {
            LOG.warn("cancel of a timed-out request on {} failed: {}", name(), e.toString());
            return true;
        }
    }

    @Override
    public boolean awaitNoRequest(Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            ResourceEngine.Settling s = space.engine.settling(this);
            if (s == null) return true;
            try {
                s.done().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
            } catch (ExecutionException e) {
                // failed or cancelled: settled all the same
            } catch (TimeoutException e) {
                return false;
            }
            if (!s.pending()) return true;
        }
    }

    @Override
    public void unlock() throws DlmException {
        try {
            awaitOutcome(space.engine.unlock(this), space.requestTimeout());
        } catch (TimeoutException e) {
            throw new DlmException(
                    DlmException.Code.TIMEOUT,
                    "unlock of " + name() + " got no answer within "
                            + space.requestTimeout().toMillis() + " ms");
        }
    }

    @Override
    public void close() {
        try {
            unlock();
        } catch (DlmException e) {
            if (e.code() != DlmException.Code.LOCKSPACE_LOST && e.code() != DlmException.Code.CLOSED) {
                LOG.warn("unlock of {} on close failed: {}", name(), e.getMessage());
            }
        }
        space.resources.forget(this);
    }

    private static <T> T awaitDone(CompletableFuture<T> f) throws DlmException {
        try {
            return awaitOutcome(f, Duration.ofSeconds(5));
        } catch (TimeoutException e) {
            throw new DlmException(DlmException.Code.TIMEOUT, "request neither granted nor cancelled");
        }
    }

    /**
     * Waits for an operation that never waits for another holder (a NOQUEUE request, a cancel,
     * an unlock, a grant that won over its cancel) to end, with the thread's interrupt status set
     * aside and restored after: such an operation goes on in the lock manager whatever its caller
     * does, so a wait cut short by an interrupt would leave the caller reading a mode it no longer
     * holds while the change commits (docs/lessons.md §73). Bounded by {@code timeout} all the same.
     */
    static <T> T awaitOutcome(CompletableFuture<T> f, Duration timeout) throws DlmException, TimeoutException {
        boolean interrupted = false;
        long deadline = System.nanoTime() + timeout.toNanos();
        try {
            while (true) {
                try {
                    return await(f, Duration.ofNanos(Math.max(0, deadline - System.nanoTime())));
                } catch (DlmException e) {
                    if (e.code() != DlmException.Code.INTERRUPTED || !Thread.interrupted()) throw e;
                    interrupted = true;
                }
            }
        } finally {
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    static <T> T await(CompletableFuture<T> f, Duration timeout) throws DlmException, TimeoutException {
        try {
            return f.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while waiting for the lock manager");
        } catch (ExecutionException e) {
            if (e.getCause() instanceof DlmException d) {
                throw new DlmException(
                        d.code(), d.getMessage().substring(d.code().name().length() + 2), d);
            }
            throw new DlmException(DlmException.Code.UNAVAILABLE, String.valueOf(e.getCause()), e.getCause());
        }
    }

    @Override
    public String toString() {
        return "lock " + name() + "#" + key.lockId() + " " + visibleGranted;
    }
}
