package org.clustermd.dlm.zk;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeoutException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.clustermd.dlm.Conversion;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockGrant;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockValueBlock;
import org.clustermd.dlm.zk.Pending.Kind;
import org.clustermd.dlm.zk.Pending.Phase;
import org.clustermd.dlm.zk.TablePlanner.Plan;
import org.clustermd.dlm.zk.ZkLockSpace.Actions;

/**
 * Conversions of several resources' locks written as one ZooKeeper transaction
 * ({@link org.clustermd.dlm.LockSpace#convertJointly}): each lock's plan is the one its
 * conversion alone would have ({@link TablePlanner}), and the transaction is their
 * concatenation, so each resource gets exactly the operations, version check included, that its
 * own transaction would have had, and the safety argument (package documentation, "A joint
 * transaction") holds resource by resource. Only the first write is joint: once it committed,
 * each conversion is granted, or waits in its queue, on its own, as any other.
 *
 * <p>Not thread-safe: guarded by the owning lockspace's lock, as {@link Pending}.
 */
final class JointRequest {
    private record Part(ZkLockResource handle, Pending pending, boolean mayQueue) {}

    private final ZkLockSpace space;
    private final List<Part> parts = new ArrayList<>();

    private JointRequest(ZkLockSpace space) {
        this.space = space;
    }

    /**
     * Starts a joint request: one future per conversion, in order. A lock already granted the
     * mode it asks for (below PW) is granted at once and takes no part in the write.
     */
    static List<CompletableFuture<LockGrant>> start(ZkLockSpace space, List<Conversion> conversions)
            throws DlmException {
        List<ZkLockResource> handles = handles(space, conversions);
        return space.underLockGet(out -> {
            ResourceEngine engine = space.engine;
            List<CompletableFuture<LockGrant>> futures = new ArrayList<>();
            for (ZkLockResource h : handles) {
                DlmException refused = engine.refuse(h);
                if (refused != null) {
                    return Collections.nCopies(handles.size(), CompletableFuture.<LockGrant>failedFuture(refused));
                }
                LockEntry e = h.resource.view.find(h.key);
                LockMode mode = conversions.get(handles.indexOf(h)).mode();
                if (e != null && e.granted() == mode && !e.isPending() && mode.isWriteMode()) {
                    return Collections.nCopies(
                            handles.size(),
                            CompletableFuture.<LockGrant>failedFuture(new DlmException(
                                    DlmException.Code.INVALID_REQUEST,
                                    h.name() + " already holds " + mode + "; republish it alone")));
                }
            }
            JointRequest joint = new JointRequest(space);
            for (int i = 0; i < handles.size(); i++) {
                ZkLockResource h = handles.get(i);
                Conversion c = conversions.get(i);
                LockEntry e = h.resource.view.find(h.key);
                if (e != null && e.granted() == c.mode() && !e.isPending()) {
                    LockValueBlock lvb = h.resource.view.valueBlock();
                    h.valueBlock = lvb;
                    LockGrant grant = new LockGrant(c.mode(), lvb, 0);
                    CompletableFuture<LockGrant> f = new CompletableFuture<>();
                    long decidedAt = space.grantDecidedAt();
                    out.add(() -> h.publish(c.mode(), 0, lvb));
                    out.add(() -> space.deliverGrant(f, grant, decidedAt, h.name()));
                    futures.add(f);
                    continue;
                }
                Pending p = new Pending(
                        Kind.CONVERT,
                        c.mode(),
                        !c.mayQueue(),
                        e == null ? null : e.znode(),
                        e == null ? null : e.granted());
                p.joint = joint;
                h.pending = p;
                joint.parts.add(new Part(h, p, c.mayQueue()));
                futures.add(p.future);
                out.add(() -> h.publishRequested(c.mode()));
            }
            if (!joint.parts.isEmpty()) joint.drive(out);
            return futures;
        });
    }

    private static List<ZkLockResource> handles(ZkLockSpace space, List<Conversion> conversions) throws DlmException {
        if (conversions.isEmpty()) {
            throw new DlmException(DlmException.Code.INVALID_REQUEST, "a joint request needs at least one conversion");
        }
        List<ZkLockResource> handles = new ArrayList<>();
        Set<String> resources = new HashSet<>();
        for (Conversion c : conversions) {
            if (!(c.lock() instanceof ZkLockResource h) || h.space != space) {
                throw new DlmException(
                        DlmException.Code.INVALID_REQUEST, c.lock().name() + " is not a lock of " + space);
            }
            if (!resources.add(h.resource.name)) {
                throw new DlmException(
                        DlmException.Code.INVALID_REQUEST,
                        "a joint request converts one lock per resource; " + h.name() + " comes twice");
            }
            handles.add(h);
        }
        return handles;
    }

    /**
     * Writes the joint transaction once every part is unwritten and every resource's view allows
     * a decision; a part that ended unwritten (cancelled) ends the others the same way. Under the
     * lock.
     */
    void drive(Actions out) {
        ResourceEngine engine = space.engine;
        boolean ended = false;
        for (Part part : parts) {
            if (part.handle.pending != part.pending) {
                ended = true;
            } else if (part.pending.phase() != Phase.TO_WRITE) {
                return; // written (each part goes on alone), or waiting for a reply
            }
        }
        if (ended) {
            for (Part part : parts) {
                if (part.handle.pending == part.pending) {
                    if (part.pending.cancelReason == null) part.pending.cancelReason = DlmException.Code.CANCELLED;
                    engine.finishCancelled(part.handle, part.pending, out);
                }
            }
            return;
        }
        for (Part part : parts) {
            if (!engine.canDecide(part.handle.resource)) return; // a later change of that resource drives it
        }
        List<Plan> plans = new ArrayList<>();
        List<Op> ops = new ArrayList<>();
        for (Part part : parts) {
            ResourceState rs = part.handle.resource;
            LockEntry e = rs.view.find(part.handle.key);
            if (e != null && e.isPending()) {
                fail(DlmException.Code.CORRUPT_STATE, rs.name + " shows a request of ours nobody wrote", out);
                return;
            }
            LockValueBlock publish = e != null
                            && LockMode.transferOnGrant(e.granted(), part.pending.mode)
                                    == LockMode.ValueBlockTransfer.WRITE
                    ? ValueBlockEntry.toPublish(part.handle.valueBlock)
                    : null;
            Plan plan = TablePlanner.plan(
                    rs.view,
                    rs.path,
                    rs.versionPath,
                    new TablePlanner.Request(part.handle.key, part.pending.mode),
                    publish,
                    space.acl);
            if (!part.mayQueue && !plan.ownGranted()) {
                fail(
                        DlmException.Code.NOT_GRANTED,
                        part.pending.mode + " on " + rs.name + " cannot be granted at once; nothing written",
                        out);
                return;
            }
            plans.add(plan);
            ops.addAll(plan.ops());
        }
        for (Part part : parts) part.pending.to(Phase.WRITING);
        WriteStats stats = space.writeStats();
        (plans.stream().anyMatch(Plan::cas) ? stats.cas : stats.plain).increment();
        space.zk.multi(ops, (rc, path, ctx, results) -> onWriteDone(Code.get(rc)), null);
    }

    private void onWriteDone(Code rc) {
        space.underLock(out -> {
            ResourceEngine engine = space.engine;
            boolean lost = rc == Code.SESSIONEXPIRED || rc == Code.SESSIONMOVED;
            if (ResourceEngine.lostRace(rc)) space.writeStats().conflicts.increment();
            // every part first, so that a lost race finds them all unwritten when one is evaluated
            for (Part part : parts) {
                if (part.handle.pending == part.pending && !lost) {
                    engine.settle(part.handle.resource, part.handle, part.pending, rc, out);
                }
            }
            if (lost) {
                out.add(() -> space.onLost("session expired"));
                return;
            }
            for (Part part : parts) {
                engine.evaluate(part.handle.resource, out);
            }
        });
    }

    private void fail(DlmException.Code code, String why, Actions out) {
        for (Part part : parts) {
            if (part.handle.pending == part.pending) space.engine.failPending(part.handle, code, why, out);
        }
    }

    /**
     * Waits for every grant within {@code timeout}. On a timeout, an interrupt or a failure, the
     * conversions still waiting are cancelled first (an interrupt set aside meanwhile, as
     * {@link ZkLockResource#convert} does), so none is granted later behind the caller's back.
     */
    static List<LockGrant> await(
            List<Conversion> conversions, List<CompletableFuture<LockGrant>> futures, Duration timeout)
            throws DlmException {
        long deadline = System.nanoTime() + timeout.toNanos();
        List<LockGrant> grants = new ArrayList<>();
        try {
            for (CompletableFuture<LockGrant> f : futures) {
                grants.add(ZkLockResource.await(f, Duration.ofNanos(Math.max(1, deadline - System.nanoTime()))));
            }
            return grants;
        } catch (TimeoutException e) {
            cancelWaiting(conversions, futures);
            List<LockGrant> late = grantedAll(futures);
            if (late != null) return late; // every cancel lost to its grant: the caller holds them all
            throw new DlmException(
                    DlmException.Code.TIMEOUT,
                    "joint request " + describe(conversions) + " not granted within " + timeout.toMillis()
                            + " ms; what still waited was cancelled");
        } catch (DlmException e) {
            boolean interrupted = Thread.interrupted();
            try {
                cancelWaiting(conversions, futures);
                if (e.code() == DlmException.Code.INTERRUPTED) {
                    List<LockGrant> late = grantedAll(futures);
                    if (late != null) return late;
                }
            } finally {
                if (interrupted) Thread.currentThread().interrupt();
            }
            throw e;
        }
    }

    /**
     * The grants, when every conversion was granted after all (a cancel completes only after the
     * grant it lost to was delivered); null when one was not. As {@link ZkLockResource#convert}
     * returns a grant that won the race with its cancel, so that the caller never believes it
     * does not hold what it holds.
     */
    private static List<LockGrant> grantedAll(List<CompletableFuture<LockGrant>> futures) {
        List<LockGrant> grants = new ArrayList<>();
        for (CompletableFuture<LockGrant> f : futures) {
            if (!f.isDone() || f.isCompletedExceptionally()) return null;
            grants.add(f.join());
        }
        return grants;
    }

    private static void cancelWaiting(List<Conversion> conversions, List<CompletableFuture<LockGrant>> futures) {
        for (int i = 0; i < futures.size(); i++) {
            if (!futures.get(i).isDone()) ((ZkLockResource) conversions.get(i).lock()).cancelQuietly();
        }
    }

    private static String describe(List<Conversion> conversions) {
        return conversions.stream()
                .map(c -> c.lock().name() + " " + c.mode())
                .toList()
                .toString();
    }
}
