package org.clustermd.cluster.message;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.apache.zookeeper.ZooKeeper;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.zk.LockSpaceDump;

/** What the server records of the channel's locks, read past every member's own view. */
final class ServerLocks {
    private ServerLocks() {}

    /**
     * What the member in {@code slot} holds of {@code resource} in cluster "c"'s one lockspace:
     * "granted" or "granted/requested", "-" for nothing.
     */
    static String heldBy(ZooKeeper reader, int slot, String resource) throws DlmException {
        List<String> held = new ArrayList<>();
        for (LockSpaceDump.Resource r : LockSpaceDump.read(reader, "/clustermd", "c")
                .lockSpaces()
                .get(0)
                .resources()) {
            if (!r.name().equals(resource)) continue;
            Stream.of(r.granted(), r.converting(), r.waiting())
                    .flatMap(List::stream)
                    .filter(l -> l.slot() == slot)
                    .forEach(l -> held.add(l.requested().isEmpty() ? l.granted() : l.granted() + "/" + l.requested()));
        }
        return held.isEmpty() ? "-" : String.join(",", held);
    }
}
