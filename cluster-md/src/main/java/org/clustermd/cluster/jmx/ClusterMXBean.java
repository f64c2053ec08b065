package org.clustermd.cluster.jmx;

/**
 * {@code org.clustermd:type=Cluster,array=<array>}: this node's view of md-cluster. Values this
 * build cannot know yet are {@code -1} (FencingToken, LeaseRemainingMs) or {@code none}
 * (ResyncOwner); a standalone array shows slot 0 of 1 and SessionState {@code standalone}.
 */
public interface ClusterMXBean {
    String getClusterName();

    int getSlot();

    int getNodes();

    int[] getMembers();

    String[] getSuspendedRanges();

    boolean isReadBalancingSuspended();

    String getResyncOwner();

    long getMessagesSent();

    long getMessagesReceived();

    long getFencingToken();

    String getSessionState();

    long getLeaseRemainingMs();
}
