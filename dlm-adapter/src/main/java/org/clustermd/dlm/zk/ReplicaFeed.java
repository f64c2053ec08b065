package org.clustermd.dlm.zk;

import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.zk.ZkLockSpace.Actions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What keeps a lockspace's replica current: the full re-read (members, departures, recovery marks
 * and every resource, read again at join and after a reconnect; decisions wait until it is done)
 * and the dispatch of the persistent recursive watch's events to {@link Members} and {@link
 * Resources}. The re-read's bookkeeping is {@link Replica}'s; this class starts the reads and
 * hands each answer to it. Moved out of {@link ZkLockSpace} unchanged.
 *
 * <p>Threads: the joining thread and Curator's connection-state thread (through {@link
 * ZkLockSpace#onReconnected}) start a re-read, under the lock; ZooKeeper's event thread delivers
 * the reads' answers and the watch's events. It has no state of its own: what it changes (the
 * replica, membership, the resources) is guarded by the owning {@link ZkLockSpace}'s lock, taken
 * through {@link ZkLockSpace#underLock}, so callbacks are enqueued under it and run after it is
 * released.
 */
final class ReplicaFeed {
    // the lockspace's logger: a lockspace's messages keep one logger name, whichever part logs
    private static final Logger LOG = LoggerFactory.getLogger(ZkLockSpace.class);

    private final ZkLockSpace space;
    private final ZooKeeper zk;
    private final ZkLockPaths paths;
    private final String lockSpaceName;

    ReplicaFeed(ZkLockSpace space) {
        this.space = space;
        this.zk = space.zk;
        this.paths = space.paths;
        this.lockSpaceName = space.lockSpaceName;
    }

    // ------------------------------------------------------------------ reading everything

    /** Reads members, departures and every resource again; decisions wait until it is done. */
    void startResync() {
        space.replica.start(space.members.live(), 4);
        zk.getChildren(
                paths.members(),
                false,
                (rc, path, ctx, children, stat) -> {
                    space.underLock(out -> {
                        if (rc == Code.OK.intValue()) {
                            space.members.membersRead(stat.getVersion(), children);
                        }
                        resyncStep(rc, out);
                    });
                },
                null);
        zk.getChildren(
                paths.departed(),
                false,
                (rc, path, ctx, children) -> {
                    space.underLock(out -> {
                        if (rc == Code.OK.intValue()) {
                            space.members.departedRead(children);
                        }
                        resyncStep(rc, out);
                    });
                },
                null);
        zk.getChildren(
                paths.recoveries(),
                false,
                (rc, path, ctx, children) -> {
                    space.underLock(out -> {
                        if (rc == Code.OK.intValue()) {
                            space.members.marksRead(children);
                        }
                        resyncStep(rc, out);
                    });
                },
                null);
        zk.getChildren(
                paths.resources(),
                false,
                (rc, path, ctx, children) -> {
                    space.underLock(out -> {
                        if (rc == Code.OK.intValue()) {
                            for (String name : children) {
                                space.resources.readResource(name);
                            }
                        }
                        resyncStep(rc, out);
                    });
                },
                null);
    }

    /** One answer of the re-read came (under the lock); the last one of a good read ends it. */
    void resyncStep(int rc, Actions out) {
        boolean ok = rc == Code.OK.intValue();
        if (!ok && space.replica.phase() == Replica.Phase.READING) {
            // the connection dropped again (a new resync follows the reconnect) or the
            // session is gone (LOST follows); either way this one is abandoned
            LOG.debug("lockspace {}: resync read failed: {}", lockSpaceName, Code.get(rc));
        }
        if (!space.replica.answered(ok)) {
            return;
        }
        if (space.member()) {
            space.members.afterRead(space.replica.membersBefore(), out);
            space.engine.afterRead(out);
            space.members.barrierStep();
        }
        out.addAll(space.replica.takeAfterRead());
    }

    // ------------------------------------------------------------------ events

    void onEvent(WatchedEvent e) {
        if (e.getType() == Watcher.Event.EventType.None) {
            return; // session health comes from Curator's connection states
        }
        ZkLockPaths.Relative rel = paths.relativize(e.getPath());
        if (rel == null) {
            return;
        }
        space.underLock(out -> {
            switch (rel.kind()) {
                case MEMBER -> space.members.onMembersEvent(e.getType(), rel.name(), out);
                case RECOVERY -> space.members.onRecoveryEvent(e.getType(), rel.name(), out);
                case DEPARTED -> space.members.onDepartedEvent(e.getType(), rel.name());
                case RESOURCE, RESOURCE_CHILD -> space.resources.onResourceEvent(rel, e, out);
                default -> {}
            }
            if (space.member()) {
                space.members.maybeFinishEpisode(out);
                space.members.barrierStep();
            }
        });
    }
}
