package org.clustermd.cluster.jmx;

/**
 * {@code org.clustermd:type=Array,name=<array>}: md's sysfs attributes of the array (docs/design.md §5),
 * with md's words and units. ComponentSize is KiB (md's {@code component_size}); SyncMin and
 * SyncCompleted are sectors; SyncMax is sectors or {@code max}; speeds are KiB/s; the I/O
 * statistics are /proc/diskstats counters of the array. A refused write or operation throws
 * (IllegalArgumentException for a bad word, IllegalStateException when md would refuse it) and
 * changes nothing: a setter never reports success for a refused change (docs/lessons.md §23).
 */
public interface ArrayMXBean {
    String getArrayState();

    /** {@code raid1}. */
    String getLevel();

    int getRaidDisks();

    int getDegraded();

    String getSyncAction();

    /** idle, frozen, resync, recover, check, repair. */
    void setSyncAction(String action);

    String getSyncStatus();

    String getSyncCompleted();

    long getSyncSpeed();

    long getSyncSpeedMin();

    void setSyncSpeedMin(long kib);

    long getSyncSpeedMax();

    void setSyncSpeedMax(long kib);

    long getSyncMin();

    String getSyncMax();

    long getMismatchCnt();

    String getName();

    String getUuid();

    long getEvents();

    long getComponentSize();

    /** md's component_size store (mdadm --grow --size), KiB; 0 for the largest the legs allow. Only grows. */
    void setComponentSize(long kib);

    int getSpares();

    long getBitmapChunkSize();

    long getBitmapDirtyChunks();

    long getReadsCompleted();

    long getWritesCompleted();

    long getSectorsRead();

    long getSectorsWritten();

    int getInFlight();

    long getIoTicksMs();

    long getTimeInQueueMs();

    void addDevice(String path);

    void removeDevice(String leg);

    void failDevice(String leg);

    void reAddDevice(String leg);

    /** mdadm --grow --raid-devices N. */
    void growRaidDevices(int n);
}
