package org.clustermd.cluster.jmx;

import java.io.IOException;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.AttributeChangeNotification;
import javax.management.MBeanNotificationInfo;
import javax.management.NotificationBroadcasterSupport;
import javax.management.ObjectName;
import org.clustermd.cluster.ClusteredArray;
import org.clustermd.raid1.Mirror;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.SyncAction;
import org.clustermd.raid1.io.DiskStats;
import org.clustermd.raid1.sb.SuperblockCodec;

/** The Array MXBean of one {@link ClusteredArray}; reads the engine on every call. Thread-safe. */
final class ArrayBean extends NotificationBroadcasterSupport implements ArrayMXBean {
    private final ClusteredArray array;
    private final Raid1Array md;
    private final ObjectName objectName;
    private final AtomicLong sequence = new AtomicLong();

    ArrayBean(ClusteredArray array, ObjectName objectName) {
        super(new MBeanNotificationInfo(
                new String[] {AttributeChangeNotification.ATTRIBUTE_CHANGE},
                AttributeChangeNotification.class.getName(),
                "ArrayState, SyncAction, Degraded and ComponentSize changes"));
        this.array = array;
        this.md = array.engine();
        this.objectName = objectName;
    }

    /** Sends md's sysfs_notify analog; {@code type} is the attribute's open type name. */
    void changed(String attribute, String type, Object oldValue, Object newValue) {
        sendNotification(new AttributeChangeNotification(
                objectName,
                sequence.incrementAndGet(),
                System.currentTimeMillis(),
                attribute + " changed from " + oldValue + " to " + newValue,
                attribute,
                type,
                oldValue,
                newValue));
    }

    @Override
    public String getArrayState() {
        return md.arrayState().toString();
    }

    @Override
    public String getLevel() {
        return "raid" + md.level();
    }

    @Override
    public int getRaidDisks() {
        return md.raidDisks();
    }

    @Override
    public int getDegraded() {
        return md.degraded();
    }

    @Override
    public String getSyncAction() {
        return md.syncAction().toString();
    }

    @Override
    public void setSyncAction(String word) {
        SyncAction action = SyncAction.parse(word); // IllegalArgumentException names md's words
        try {
            array.syncAction(action);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    @Override
    public String getSyncStatus() {
        return md.syncStatus();
    }

    @Override
    public String getSyncCompleted() {
        return md.syncCompleted();
    }

    @Override
    public long getSyncSpeed() {
        return md.syncSpeed();
    }

    @Override
    public long getSyncSpeedMin() {
        return md.syncSpeedMin();
    }

    @Override
    public void setSyncSpeedMin(long kib) {
        try {
            array.syncSpeedMin(kib);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    @Override
    public long getSyncSpeedMax() {
        return md.syncSpeedMax();
    }

    @Override
    public void setSyncSpeedMax(long kib) {
        try {
            array.syncSpeedMax(kib);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    @Override
    public long getSyncMin() {
        return md.syncMin();
    }

    @Override
    public String getSyncMax() {
        long max = md.syncMax();
        return max == Long.MAX_VALUE ? "max" : Long.toString(max);
    }

    @Override
    public long getMismatchCnt() {
        return md.mismatchCount();
    }

    @Override
    public String getName() {
        return md.name();
    }

    @Override
    public String getUuid() {
        return SuperblockCodec.mdadmUuid(md.uuid());
    }

    @Override
    public long getEvents() {
        return md.events();
    }

    /** md's component_size is KiB; the engine counts sectors. */
    @Override
    public long getComponentSize() {
        return md.sizeSectors() / 2;
    }

    /** A refused size is an exception, never a silent no-op (docs/lessons.md §23). */
    @Override
    public void setComponentSize(long kib) {
        try {
            array.growSize(kib == 0 ? array.maxSizeSectors() : Math.multiplyExact(kib, 2));
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        } catch (ArithmeticException e) {
            throw new IllegalArgumentException(md.name() + ": component size " + kib + " KiB is too large");
        }
    }

    @Override
    public int getSpares() {
        int n = 0;
        for (Mirror m : md.mirrors().mirrors()) if (m.mdState().contains("spare")) n++;
        return n;
    }

    @Override
    public long getBitmapChunkSize() {
        return md.bitmapChunkSize();
    }

    @Override
    public long getBitmapDirtyChunks() {
        return md.bitmapDirtyChunks();
    }

    @Override
    public long getReadsCompleted() {
        return md.stats().readsCompleted();
    }

    @Override
    public long getWritesCompleted() {
        return md.stats().writesCompleted();
    }

    @Override
    public long getSectorsRead() {
        return md.stats().sectorsRead();
    }

    @Override
    public long getSectorsWritten() {
        return md.stats().sectorsWritten();
    }

    @Override
    public int getInFlight() {
        return md.stats().inFlight();
    }

    @Override
    public long getIoTicksMs() {
        return md.stats().ioTicksMs();
    }

    @Override
    public long getTimeInQueueMs() {
        DiskStats s = md.stats();
        return s.timeInQueueMs();
    }

    @Override
    public void addDevice(String path) {
        try {
            array.addDevice(path(path));
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        } catch (IOException e) {
            throw new IllegalArgumentException(md.name() + ": cannot open " + path + ": " + e.getMessage());
        }
    }

    @Override
    public void removeDevice(String leg) {
        try {
            array.removeDevice(leg);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    @Override
    public void failDevice(String leg) {
        try {
            array.failDevice(leg);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    @Override
    public void reAddDevice(String leg) {
        try {
            array.reAddDevice(leg);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        } catch (IOException e) {
            throw new IllegalArgumentException(md.name() + ": cannot open " + leg + ": " + e.getMessage());
        }
    }

    @Override
    public void growRaidDevices(int n) {
        try {
            array.growRaidDisks(n);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    private Path path(String p) {
        if (p == null || p.isBlank()) throw new IllegalArgumentException(md.name() + ": no device path given");
        try {
            return Path.of(p);
        } catch (InvalidPathException e) {
            throw new IllegalArgumentException(md.name() + ": not a path: " + p);
        }
    }
}
