package org.clustermd.cluster.jmx;

import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.management.InstanceAlreadyExistsException;
import javax.management.InstanceNotFoundException;
import javax.management.MBeanRegistrationException;
import javax.management.MBeanServer;
import javax.management.MalformedObjectNameException;
import javax.management.NotCompliantMBeanException;
import javax.management.ObjectName;
import org.clustermd.cluster.ClusteredArray;
import org.clustermd.raid1.ArrayListener;
import org.clustermd.raid1.AttributeChange;
import org.clustermd.raid1.Mirror;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one owner of a {@link ClusteredArray}'s MBeans in one MBean server: registers the Array,
 * Cluster and Device MBeans (docs/design.md §5), keeps the Device MBeans in step with the legs, forwards
 * the engine's attribute changes as AttributeChangeNotifications, and unregisters them all at
 * {@link #close()}.
 *
 * <p>Two instances under one name share nothing (docs/lessons.md §26): every name is owned by the
 * export that registered it, in a table common to the process; a name still owned (or registered
 * by anyone) is refused, never replaced, and an export only ever unregisters its own names, so
 * a late event of a closing export cannot remove its successor's MBean. A closed export
 * registers nothing more.
 *
 * <p>Thread-safe.
 */
public final class JmxExport implements AutoCloseable {
    public static final String DOMAIN = "org.clustermd";
    private static final Logger log = LoggerFactory.getLogger(JmxExport.class);

    /** (server, name) to owner; guarded by itself. */
    private static final Map<List<Object>, JmxExport> OWNERS = new HashMap<>();

    private final ClusteredArray array;
    private final MBeanServer server;
    private final ArrayBean arrayBean;
    /** Leg name to its bean; guarded by OWNERS. */
    private final Map<String, DeviceBean> devices = new LinkedHashMap<>();

    private final Set<ObjectName> owned = new HashSet<>();
    private final ArrayListener events = new ArrayListener() {
        @Override
        public void attributeChanged(AttributeChange c) {
            forward(c);
        }
    };
    private boolean closed;

    private JmxExport(ClusteredArray array, MBeanServer server) {
        this.array = array;
        this.server = server;
        this.arrayBean = new ArrayBean(array, arrayName(array.name()));
    }

    /**
     * Registers {@code array}'s MBeans in {@code server}.
     *
     * @throws IllegalStateException when one of the names is already registered (the old array's
     *     MBeans are still there); nothing of this export stays registered then
     */
    public static JmxExport register(ClusteredArray array, MBeanServer server) {
        JmxExport e = new JmxExport(array, server);
        try {
            synchronized (OWNERS) {
                e.claim(arrayName(array.name()), e.arrayBean);
                e.claim(clusterName(array.name()), new ClusterBean(array));
                e.syncDevices();
            }
        } catch (IllegalStateException ex) {
            e.close();
            throw ex;
        }
        array.addListener(e.events);
        return e;
    }

    public static ObjectName arrayName(String array) {
        return name("type=Array,name=" + value(array));
    }

    public static ObjectName clusterName(String array) {
        return name("type=Cluster,array=" + value(array));
    }

    public static ObjectName deviceName(String array, String leg) {
        return name("type=Device,array=" + value(array) + ",name=" + value(leg));
    }

    /** The pattern matching every Device MBean of {@code array}. */
    public static ObjectName devicePattern(String array) {
        return name("type=Device,array=" + value(array) + ",*");
    }

    private static ObjectName name(String properties) {
        try {
            return new ObjectName(DOMAIN + ":" + properties);
        } catch (MalformedObjectNameException e) {
            throw new IllegalArgumentException("not a valid MBean name: " + properties, e);
        }
    }

    /** A leg path holds '/' (allowed) and may hold ':' or ',' (not allowed unquoted). */
    private static String value(String v) {
        for (char c : v.toCharArray()) {
            if (",=:\"*?\n".indexOf(c) >= 0) return ObjectName.quote(v);
        }
        return v;
    }

    private void forward(AttributeChange c) {
        switch (c.attribute()) {
            case AttributeChange.ARRAY_STATE, AttributeChange.SYNC_ACTION ->
                arrayBean.changed(c.attribute(), String.class.getName(), c.oldValue(), c.newValue());
            case AttributeChange.DEGRADED ->
                arrayBean.changed(c.attribute(), "int", toInt(c.oldValue()), toInt(c.newValue()));
            case AttributeChange.COMPONENT_SIZE ->
                arrayBean.changed(c.attribute(), "long", toLong(c.oldValue()), toLong(c.newValue()));
            case AttributeChange.DEVICE_STATE -> {
                DeviceBean d;
                synchronized (OWNERS) {
                    syncDevices();
                    d = devices.get(c.device().orElse(""));
                }
                if (d != null) d.stateChanged(c.oldValue(), c.newValue());
            }
            default -> {}
        }
        if (!c.attribute().equals(AttributeChange.DEVICE_STATE)) {
            synchronized (OWNERS) {
                syncDevices();
            }
        }
    }

    private static Long toLong(String v) {
        try {
            return Long.valueOf(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static Integer toInt(String v) {
        try {
            return Integer.valueOf(v);
        } catch (NumberFormatException e) {
            return null;
        }
    }

    /** Registers a Device MBean for each new leg and unregisters those of legs gone. Holds OWNERS. */
    private void syncDevices() {
        if (closed) return;
        Set<String> now = new HashSet<>();
        for (Mirror m : array.engine().mirrors().mirrors()) {
            now.add(m.name());
            if (!devices.containsKey(m.name())) {
                ObjectName n = deviceName(array.name(), m.name());
                DeviceBean b = new DeviceBean(array.engine(), m.name(), n);
                try {
                    claim(n, b);
                    devices.put(m.name(), b);
                } catch (IllegalStateException e) {
                    log.warn("{}", e.getMessage());
                }
            }
        }
        for (String leg : List.copyOf(devices.keySet())) {
            if (!now.contains(leg)) {
                devices.remove(leg);
                release(deviceName(array.name(), leg));
            }
        }
    }

    /** Holds OWNERS. */
    private void claim(ObjectName name, Object bean) {
        if (closed) throw new IllegalStateException(name + ": this export is closed");
        List<Object> key = List.of(server, name);
        JmxExport owner = OWNERS.get(key);
        if (owner != null || server.isRegistered(name)) {
            throw new IllegalStateException(
                    "an MBean named " + name + " is still registered: the previous instance of array " + array.name()
                            + " must be unregistered first");
        }
        try {
            server.registerMBean(bean, name);
        } catch (InstanceAlreadyExistsException | MBeanRegistrationException | NotCompliantMBeanException e) {
            throw new IllegalStateException("registering " + name + " failed: " + e.getMessage(), e);
        }
        OWNERS.put(key, this);
        owned.add(name);
    }

    /** Holds OWNERS. Unregisters {@code name} only if this export owns it. */
    private void release(ObjectName name) {
        List<Object> key = List.of(server, name);
        if (OWNERS.get(key) != this) return;
        try {
            server.unregisterMBean(name);
        } catch (InstanceNotFoundException | MBeanRegistrationException e) {
            log.warn("unregistering {}: {}", name, e.getMessage());
        }
        OWNERS.remove(key);
        owned.remove(name);
    }

    /** Unregisters every MBean this export registered. Idempotent. */
    @Override
    public void close() {
        array.removeListener(events);
        synchronized (OWNERS) {
            closed = true;
            for (ObjectName n : List.copyOf(owned)) release(n);
            devices.clear();
        }
    }
}
