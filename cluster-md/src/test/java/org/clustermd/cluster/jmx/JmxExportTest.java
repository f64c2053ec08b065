package org.clustermd.cluster.jmx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.RandomAccessFile;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import javax.management.Attribute;
import javax.management.AttributeChangeNotification;
import javax.management.JMX;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanInfo;
import javax.management.MBeanServer;
import javax.management.MBeanServerFactory;
import javax.management.Notification;
import javax.management.ObjectName;
import javax.management.RuntimeMBeanException;
import org.clustermd.cluster.ClusteredArray;
import org.clustermd.raid1.admin.ArrayCreator;
import org.clustermd.raid1.admin.CreateOptions;
import org.clustermd.raid1.io.AlignedBuffers;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The MBeans of a real single-node array on real leg files, against docs/design.md §5. */
class JmxExportTest {
    @TempDir
    Path dir;

    private List<Path> legs(int n, String name) throws Exception {
        List<Path> legs = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            Path f = dir.resolve(name + "-leg" + i);
            try (RandomAccessFile raf = new RandomAccessFile(f.toFile(), "rw")) {
                raf.setLength(16L << 20);
            }
            legs.add(f);
        }
        ArrayCreator.create(
                CreateOptions.builder(name)
                        .nodes(1)
                        .bitmapChunk(1 << 20)
                        .assumeClean(true)
                        .build(),
                legs);
        return legs;
    }

    private static ClusteredArray open(String name, List<Path> legs) throws Exception {
        return ClusteredArray.builder().name(name).legs(legs).standalone().open();
    }

    @Test
    void namesTypesAndValuesAreDesignSection5s() throws Exception {
        List<Path> legs = legs(2, "md0");
        MBeanServer mbs = MBeanServerFactory.newMBeanServer();
        try (ClusteredArray md0 = open("md0", legs);
                JmxExport export = JmxExport.register(md0, mbs)) {
            ObjectName array = new ObjectName("org.clustermd:type=Array,name=md0");
            ObjectName cluster = new ObjectName("org.clustermd:type=Cluster,array=md0");
            assertThat(mbs.isRegistered(array)).isTrue();
            assertThat(mbs.isRegistered(cluster)).isTrue();
            Set<ObjectName> devices = mbs.queryNames(new ObjectName("org.clustermd:type=Device,array=md0,*"), null);
            assertThat(devices).hasSize(2);
            assertThat(devices)
                    .extracting(n -> n.getKeyProperty("name"))
                    .containsExactlyInAnyOrder(
                            legs.get(0).toString(), legs.get(1).toString());

            Map<String, String> types = Map.ofEntries(
                    Map.entry("ArrayState", "java.lang.String"),
                    Map.entry("Level", "java.lang.String"),
                    Map.entry("RaidDisks", "int"),
                    Map.entry("Degraded", "int"),
                    Map.entry("SyncAction", "java.lang.String"),
                    Map.entry("SyncStatus", "java.lang.String"),
                    Map.entry("SyncCompleted", "java.lang.String"),
                    Map.entry("SyncSpeed", "long"),
                    Map.entry("SyncSpeedMin", "long"),
                    Map.entry("SyncSpeedMax", "long"),
                    Map.entry("SyncMin", "long"),
                    Map.entry("SyncMax", "java.lang.String"),
                    Map.entry("MismatchCnt", "long"),
                    Map.entry("Name", "java.lang.String"),
                    Map.entry("Uuid", "java.lang.String"),
                    Map.entry("Events", "long"),
                    Map.entry("ComponentSize", "long"),
                    Map.entry("Spares", "int"),
                    Map.entry("BitmapChunkSize", "long"),
                    Map.entry("BitmapDirtyChunks", "long"),
                    Map.entry("ReadsCompleted", "long"),
                    Map.entry("WritesCompleted", "long"),
                    Map.entry("SectorsRead", "long"),
                    Map.entry("SectorsWritten", "long"),
                    Map.entry("InFlight", "int"),
                    Map.entry("IoTicksMs", "long"),
                    Map.entry("TimeInQueueMs", "long"));
            MBeanInfo info = mbs.getMBeanInfo(array);
            for (Map.Entry<String, String> e : types.entrySet()) {
                MBeanAttributeInfo a = find(info, e.getKey());
                assertThat(a.getType()).as(e.getKey()).isEqualTo(e.getValue());
                boolean writable = Set.of("SyncAction", "SyncSpeedMin", "SyncSpeedMax", "ComponentSize")
                        .contains(e.getKey());
                assertThat(a.isWritable()).as(e.getKey() + " writable").isEqualTo(writable);
            }
            assertThat(info.getAttributes()).hasSize(types.size());
            assertThat(info.getOperations())
                    .extracting(o -> o.getName())
                    .containsExactlyInAnyOrder(
                            "addDevice", "removeDevice", "failDevice", "reAddDevice", "growRaidDevices");

            assertThat(mbs.getAttribute(array, "Level")).isEqualTo("raid1");
            assertThat(mbs.getAttribute(array, "RaidDisks")).isEqualTo(2);
            assertThat(mbs.getAttribute(array, "Degraded")).isEqualTo(0);
            assertThat(mbs.getAttribute(array, "Name")).isEqualTo("md0");
            assertThat((String) mbs.getAttribute(array, "Uuid")).matches("[0-9a-f]{8}(:[0-9a-f]{8}){3}");
            assertThat((String) mbs.getAttribute(array, "ArrayState")).isIn("clean", "active", "active-idle");
            assertThat(mbs.getAttribute(array, "SyncAction")).isEqualTo("idle");
            assertThat(mbs.getAttribute(array, "SyncStatus")).isEqualTo("idle");
            assertThat(mbs.getAttribute(array, "SyncCompleted")).isEqualTo("none");
            assertThat(mbs.getAttribute(array, "SyncMax")).isEqualTo("max");
            assertThat(mbs.getAttribute(array, "ComponentSize"))
                    .as("KiB, md's component_size")
                    .isEqualTo(md0.size() / 1024);
            assertThat(mbs.getAttribute(array, "BitmapChunkSize")).isEqualTo(1L << 20);
            assertThat(mbs.getAttribute(array, "Spares")).isEqualTo(0);

            ByteBuffer b = AlignedBuffers.allocate(8192);
            while (b.hasRemaining()) b.put((byte) 7);
            b.flip();
            md0.write(0, b, true);
            assertThat((long) mbs.getAttribute(array, "WritesCompleted")).isPositive();
            assertThat((long) mbs.getAttribute(array, "SectorsWritten")).isGreaterThanOrEqualTo(16);
            assertThat(mbs.getAttribute(array, "InFlight")).isEqualTo(0);

            ObjectName leg0 = JmxExport.deviceName("md0", legs.get(0).toString());
            DeviceMXBean d = JMX.newMXBeanProxy(mbs, leg0, DeviceMXBean.class);
            assertThat(d.getState()).isEqualTo("in_sync");
            assertThat(d.getSlot()).isEqualTo("0");
            assertThat(d.getRecoveryStart()).isEqualTo("none");
            assertThat(d.getPath()).isEqualTo(legs.get(0).toString());
            assertThat(d.getErrors()).isZero();
            assertThat(d.getWritesCompleted()).isPositive();
            assertThat(find(mbs.getMBeanInfo(leg0), "State").isWritable()).isTrue();

            ClusterMXBean c = JMX.newMXBeanProxy(mbs, cluster, ClusterMXBean.class);
            assertThat(c.getSessionState()).isEqualTo("standalone");
            assertThat(c.getSlot()).isZero();
            assertThat(c.getMembers()).containsExactly(0);
            assertThat(c.getResyncOwner()).isEqualTo("none");
            Set<String> clusterAttrs = Set.of(
                    "ClusterName",
                    "Slot",
                    "Nodes",
                    "Members",
                    "SuspendedRanges",
                    "ReadBalancingSuspended",
                    "ResyncOwner",
                    "MessagesSent",
                    "MessagesReceived",
                    "FencingToken",
                    "SessionState",
                    "LeaseRemainingMs");
            assertThat(mbs.getMBeanInfo(cluster).getAttributes())
                    .extracting(MBeanAttributeInfo::getName)
                    .containsExactlyInAnyOrderElementsOf(clusterAttrs);
        }
        assertThat(mbs.queryNames(new ObjectName("org.clustermd:*"), null))
                .as("close unregisters everything")
                .isEmpty();
    }

    @Test
    void refusedSettersAndOperationsThrowAndChangeNothing() throws Exception {
        List<Path> legs = legs(2, "md1");
        MBeanServer mbs = MBeanServerFactory.newMBeanServer();
        try (ClusteredArray md1 = open("md1", legs);
                JmxExport export = JmxExport.register(md1, mbs)) {
            ObjectName array = JmxExport.arrayName("md1");
            ArrayMXBean a = JMX.newMXBeanProxy(mbs, array, ArrayMXBean.class);
            assertThatThrownBy(() -> a.setSyncAction("rebuild"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("not a sync_action: 'rebuild'");
            assertThat(a.getSyncAction()).isEqualTo("idle");
            long min = a.getSyncSpeedMin();
            assertThatThrownBy(() -> a.setSyncSpeedMin(-5)).isInstanceOf(IllegalArgumentException.class);
            assertThat(a.getSyncSpeedMin()).isEqualTo(min);
            assertThatThrownBy(() -> mbs.setAttribute(array, new Attribute("SyncSpeedMax", -1L)))
                    .isInstanceOf(RuntimeMBeanException.class)
                    .hasRootCauseInstanceOf(IllegalArgumentException.class);
            assertThatThrownBy(() -> mbs.setAttribute(array, new Attribute("Degraded", 1)))
                    .hasMessageContaining("Degraded");
            assertThatThrownBy(() -> a.failDevice(dir.resolve("nope").toString()))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("is not a member");
            a.setSyncSpeedMin(2000);
            assertThat(a.getSyncSpeedMin()).isEqualTo(2000);

            DeviceMXBean d = JMX.newMXBeanProxy(
                    mbs, JmxExport.deviceName("md1", legs.get(1).toString()), DeviceMXBean.class);
            assertThatThrownBy(() -> d.setState("broken"))
                    .isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("'broken' is not a device state command");
            assertThat(d.getState()).isEqualTo("in_sync");
            assertThatThrownBy(() -> a.removeDevice(legs.get(1).toString()))
                    .as("an in-sync leg cannot be removed")
                    .isInstanceOf(IllegalStateException.class);
            d.setState("faulty");
            assertThat(d.getState()).isEqualTo("faulty");
            DeviceMXBean d0 = JMX.newMXBeanProxy(
                    mbs, JmxExport.deviceName("md1", legs.get(0).toString()), DeviceMXBean.class);
            assertThatThrownBy(() -> d0.setState("faulty"))
                    .as("the last in-sync leg")
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("BUSY");
            assertThat(d0.getState()).isEqualTo("in_sync");
        }
    }

    @Test
    void notificationsFollowArrayAndDeviceStateAndDeviceBeansFollowTheLegs() throws Exception {
        List<Path> legs = legs(2, "md2");
        MBeanServer mbs = MBeanServerFactory.newMBeanServer();
        try (ClusteredArray md2 = open("md2", legs);
                JmxExport export = JmxExport.register(md2, mbs)) {
            LinkedBlockingQueue<Notification> heard = new LinkedBlockingQueue<>();
            mbs.addNotificationListener(JmxExport.arrayName("md2"), (n, h) -> heard.add(n), null, null);
            ObjectName leg1 = JmxExport.deviceName("md2", legs.get(1).toString());
            mbs.addNotificationListener(leg1, (n, h) -> heard.add(n), null, null);
            md2.failDevice(legs.get(1).toString());
            List<AttributeChangeNotification> got = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (System.nanoTime() < deadline
                    && (got.stream().noneMatch(n -> n.getAttributeName().equals("Degraded"))
                            || got.stream().noneMatch(n -> n.getAttributeName().equals("State")))) {
                Notification n = heard.poll(100, TimeUnit.MILLISECONDS);
                if (n instanceof AttributeChangeNotification a) got.add(a);
            }
            AttributeChangeNotification degraded = got.stream()
                    .filter(n -> n.getAttributeName().equals("Degraded"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no Degraded notification: " + got));
            assertThat(degraded.getAttributeType()).isEqualTo("int");
            assertThat(degraded.getOldValue()).isEqualTo(0);
            assertThat(degraded.getNewValue()).isEqualTo(1);
            assertThat(degraded.getSource()).isEqualTo(JmxExport.arrayName("md2"));
            AttributeChangeNotification state = got.stream()
                    .filter(n -> n.getAttributeName().equals("State"))
                    .findFirst()
                    .orElseThrow(() -> new AssertionError("no State notification: " + got));
            assertThat(state.getNewValue()).isEqualTo("faulty");
            assertThat(state.getSource()).isEqualTo(leg1);

            md2.removeDevice(legs.get(1).toString());
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (mbs.isRegistered(leg1) && System.nanoTime() < until) Thread.sleep(20);
            assertThat(mbs.isRegistered(leg1))
                    .as("a removed leg's MBean is unregistered")
                    .isFalse();
            md2.reAddDevice(legs.get(1).toString());
            until = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (!mbs.isRegistered(leg1) && System.nanoTime() < until) Thread.sleep(20);
            assertThat(mbs.isRegistered(leg1))
                    .as("a re-added leg gets its MBean back")
                    .isTrue();
            md2.engine().awaitSyncIdle(Duration.ofSeconds(60));
            assertThat(mbs.getAttribute(leg1, "State")).isEqualTo("in_sync");
        }
    }

    /** docs/lessons.md §26: a second export under a live name is refused; the first one's close never removes the second's. */
    @Test
    void lesson26ANewInstanceNeverReplacesOrLosesToTheOldOne() throws Exception {
        List<Path> legs = legs(2, "md3");
        MBeanServer mbs = ManagementFactory.getPlatformMBeanServer();
        try (ClusteredArray first = open("md3", legs)) {
            JmxExport old = JmxExport.register(first, mbs);
            assertThatThrownBy(() -> JmxExport.register(first, mbs))
                    .isInstanceOf(IllegalStateException.class)
                    .hasMessageContaining("org.clustermd:type=Array,name=md3")
                    .hasMessageContaining("still registered");
            assertThat(mbs.isRegistered(JmxExport.arrayName("md3")))
                    .as("the refused export took nothing down")
                    .isTrue();
            old.close();
            JmxExport second = JmxExport.register(first, mbs);
            try {
                old.close(); // again: late, and must not touch what the second one registered
                assertThat(mbs.isRegistered(JmxExport.arrayName("md3"))).isTrue();
                assertThat(mbs.isRegistered(JmxExport.clusterName("md3"))).isTrue();
                assertThat(mbs.queryNames(JmxExport.devicePattern("md3"), null)).hasSize(2);
            } finally {
                second.close();
            }
            assertThat(mbs.queryNames(new ObjectName("org.clustermd:*,array=md3"), null))
                    .isEmpty();
        }
    }

    private static MBeanAttributeInfo find(MBeanInfo info, String name) {
        for (MBeanAttributeInfo a : info.getAttributes()) if (a.getName().equals(name)) return a;
        throw new AssertionError("no attribute " + name);
    }
}
