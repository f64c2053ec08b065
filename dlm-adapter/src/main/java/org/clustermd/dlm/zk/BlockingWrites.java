package org.clustermd.dlm.zk;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.DlmException;

/**
 * The lockspace's few writes that a caller waits for on its own thread (joining, leaving,
 * creating a resource), as opposed to the engine's, whose replies arrive on ZooKeeper's event
 * thread: each bounded by a deadline, and a refusal for credentials reported as such.
 *
 * <p>Thread-safe.
 */
final class BlockingWrites {
    private final ZooKeeper zk;
    private final Duration requestTimeout;

    BlockingWrites(ZooKeeper zk, Duration requestTimeout) {
        this.zk = zk;
        this.requestTimeout = requestTimeout;
    }

    Code multiAndWait(List<Op> ops, long deadline, String what) throws DlmException {
        CountDownLatch done = new CountDownLatch(1);
        AtomicReference<Code> result = new AtomicReference<>();
        zk.multi(
                ops,
                (rc, path, ctx, results) -> {
                    result.set(Code.get(rc));
                    done.countDown();
                },
                null);
        awaitLatch(done, deadline, what);
        Code rc = result.get();
        if (rc == Code.NOAUTH) {
            throw new DlmException(DlmException.Code.NO_AUTH, what + ": ZooKeeper refused access (credentials)");
        }
        return rc;
    }

    void awaitLatch(CountDownLatch latch, long deadline, String what) throws DlmException {
        try {
            if (!latch.await(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
                throw new DlmException(
                        DlmException.Code.TIMEOUT, what + " took longer than " + requestTimeout.toMillis() + " ms");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new DlmException(DlmException.Code.INTERRUPTED, "interrupted while " + what);
        }
    }
}
