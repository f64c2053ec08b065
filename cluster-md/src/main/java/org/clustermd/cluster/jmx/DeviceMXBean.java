package org.clustermd.cluster.jmx;

/**
 * {@code org.clustermd:type=Device,array=<array>,name=<leg>}: md's {@code dev-X} attributes of one leg.
 * State is md's comma list (faulty, in_sync, write_mostly, spare); writing it takes md's words
 * (faulty, remove, re-add, writemostly, -writemostly, idle) and refuses any other. Slot and
 * RecoveryStart print {@code none} as md does.
 */
public interface DeviceMXBean {
    String getState();

    void setState(String word);

    String getSlot();

    long getErrors();

    String getRecoveryStart();

    String getPath();

    long getReadsCompleted();

    long getWritesCompleted();

    long getSectorsRead();

    long getSectorsWritten();

    int getInFlight();

    long getIoTicksMs();

    long getTimeInQueueMs();
}
