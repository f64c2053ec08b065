package org.clustermd.cluster.jmx;

import java.util.Optional;
import org.clustermd.cluster.ClusterCoordinator;
import org.clustermd.cluster.ClusteredArray;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.Raid1Array;

/** The Cluster MXBean of one {@link ClusteredArray}. Thread-safe. */
final class ClusterBean implements ClusterMXBean {
    private final ClusteredArray array;
    private final Raid1Array md;

    ClusterBean(ClusteredArray array) {
        this.array = array;
        this.md = array.engine();
    }

    private Optional<ClusterCoordinator> cc() {
        return array.coordinator();
    }

    @Override
    public String getClusterName() {
        String n = md.clusterName();
        return n == null ? "" : n;
    }

    @Override
    public int getSlot() {
        return array.slot();
    }

    @Override
    public int getNodes() {
        return md.bitmap().map(b -> b.geometry().slots()).orElse(1);
    }

    @Override
    public int[] getMembers() {
        if (cc().isEmpty()) return new int[] {0};
        return cc().get().members().stream().mapToInt(NodeSlot::number).sorted().toArray();
    }

    /** No RESYNCING message is received in this build, so no peer's window is suspended here. */
    @Override
    public String[] getSuspendedRanges() {
        return new String[0];
    }

    @Override
    public boolean isReadBalancingSuspended() {
        return cc().map(ClusterCoordinator::readBalancingSuspended).orElse(false);
    }

    /** This node while its sync pass runs; a remote owner needs RESYNCING, so otherwise none. */
    @Override
    public String getResyncOwner() {
        String s = md.syncStatus();
        return s.equals("resync") || s.equals("recovery") ? Integer.toString(array.slot()) : "none";
    }

    @Override
    public long getMessagesSent() {
        return 0;
    }

    @Override
    public long getMessagesReceived() {
        return 0;
    }

    @Override
    public long getFencingToken() {
        return -1;
    }

    @Override
    public String getSessionState() {
        if (cc().isEmpty()) return "standalone";
        return cc().get()
                .sessionState()
                .map(s -> s.name().toLowerCase(java.util.Locale.ROOT))
                .orElse("none");
    }

    @Override
    public long getLeaseRemainingMs() {
        return -1;
    }
}
