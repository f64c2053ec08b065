/**
 * The pieces of md's sync machinery that stand alone: {@link org.clustermd.raid1.resync.ResyncBarrier}
 * (raid1's barrier between resync and normal I/O, and the array freeze used by quiesce) and
 * {@link org.clustermd.raid1.resync.SyncThrottle} (sync_speed_min/max and the adaptive yield to
 * foreground I/O). The sync thread itself lives with the array in {@code org.clustermd.raid1}.
 */
package org.clustermd.raid1.resync;
