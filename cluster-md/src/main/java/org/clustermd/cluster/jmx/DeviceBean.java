package org.clustermd.cluster.jmx;

import java.util.concurrent.atomic.AtomicLong;
import javax.management.AttributeChangeNotification;
import javax.management.MBeanNotificationInfo;
import javax.management.NotificationBroadcasterSupport;
import javax.management.ObjectName;
import org.clustermd.raid1.Mirror;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.io.DiskStats;

/** The Device MXBean of one leg; looks the leg up on every call (it may have been removed). Thread-safe. */
final class DeviceBean extends NotificationBroadcasterSupport implements DeviceMXBean {
    private final Raid1Array md;
    private final String leg;
    private final ObjectName objectName;
    private final AtomicLong sequence = new AtomicLong();

    DeviceBean(Raid1Array md, String leg, ObjectName objectName) {
        super(new MBeanNotificationInfo(
                new String[] {AttributeChangeNotification.ATTRIBUTE_CHANGE},
                AttributeChangeNotification.class.getName(),
                "State changes"));
        this.md = md;
        this.leg = leg;
        this.objectName = objectName;
    }

    void stateChanged(String oldValue, String newValue) {
        sendNotification(new AttributeChangeNotification(
                objectName,
                sequence.incrementAndGet(),
                System.currentTimeMillis(),
                "State of " + leg + " changed from " + oldValue + " to " + newValue,
                "State",
                String.class.getName(),
                oldValue,
                newValue));
    }

    private Mirror mirror() {
        return md.mirrors()
                .byName(leg)
                .orElseThrow(() -> new IllegalStateException(md.name() + ": " + leg + " is no longer a member"));
    }

    @Override
    public String getState() {
        return mirror().mdState();
    }

    @Override
    public void setState(String word) {
        if (word == null) throw new IllegalArgumentException(md.name() + ": no state word given");
        try {
            md.deviceState(leg, word);
        } catch (Raid1Exception e) {
            throw Refusal.of(e);
        }
    }

    @Override
    public String getSlot() {
        int role = mirror().role();
        return role == Mirror.NO_ROLE ? "none" : Integer.toString(role);
    }

    @Override
    public long getErrors() {
        return mirror().errors();
    }

    @Override
    public String getRecoveryStart() {
        long r = mirror().recoveryOffset();
        return r == Long.MAX_VALUE ? "none" : Long.toString(r);
    }

    @Override
    public String getPath() {
        return leg;
    }

    private DiskStats stats() {
        return mirror().stats();
    }

    @Override
    public long getReadsCompleted() {
        return stats().readsCompleted();
    }

    @Override
    public long getWritesCompleted() {
        return stats().writesCompleted();
    }

    @Override
    public long getSectorsRead() {
        return stats().sectorsRead();
    }

    @Override
    public long getSectorsWritten() {
        return stats().sectorsWritten();
    }

    @Override
    public int getInFlight() {
        return stats().inFlight();
    }

    @Override
    public long getIoTicksMs() {
        return stats().ioTicksMs();
    }

    @Override
    public long getTimeInQueueMs() {
        return stats().timeInQueueMs();
    }
}
