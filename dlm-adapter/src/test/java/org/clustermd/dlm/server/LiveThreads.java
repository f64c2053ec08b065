package org.clustermd.dlm.server;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

/** Live-thread snapshots for leak checks: which threads appeared since a snapshot. */
final class LiveThreads {
    private final Set<Thread> before;

    private LiveThreads(Set<Thread> before) {
        this.before = before;
    }

    static LiveThreads snapshot() {
        return new LiveThreads(Set.copyOf(Thread.getAllStackTraces().keySet()));
    }

    /**
     * Threads alive now that were not alive at the snapshot, ZooKeeper client threads
     * (SendThread, EventThread: the test's own clients, which end on their own) excepted.
     */
    List<String> newServerThreads() {
        return Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.isAlive() && !before.contains(t))
                .map(t -> t.getName() + (t.isDaemon() ? " (daemon)" : "") + " in "
                        + (t.getThreadGroup() == null ? "-" : t.getThreadGroup().getName()))
                .filter(name -> !name.contains("-SendThread(") && !name.contains("-EventThread"))
                .sorted()
                .collect(Collectors.toList());
    }
}
