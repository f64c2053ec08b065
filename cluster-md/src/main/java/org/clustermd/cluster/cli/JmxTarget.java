package org.clustermd.cluster.cli;

import java.io.IOException;
import java.lang.reflect.Array;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import javax.management.Attribute;
import javax.management.AttributeList;
import javax.management.JMException;
import javax.management.MBeanAttributeInfo;
import javax.management.MBeanServerConnection;
import javax.management.ObjectName;
import javax.management.remote.JMXConnector;
import javax.management.remote.JMXConnectorFactory;
import org.clustermd.cluster.jmx.JmxExport;
import org.clustermd.cluster.jmx.JmxRemote;

/**
 * One node's JMX as the client verbs see it: the array's MBeans read into maps keyed by the
 * attribute names (in the MBean's order), and its writes and operations, whose refusals come
 * back as an IOException with the node's own message.
 *
 * <p>Not thread-safe; one per verb run.
 */
final class JmxTarget implements AutoCloseable {
    final String endpoint;
    final String array;
    private final JMXConnector connector;
    private final MBeanServerConnection conn;

    private JmxTarget(String endpoint, String array, JMXConnector connector, MBeanServerConnection conn) {
        this.endpoint = endpoint;
        this.array = array;
        this.connector = connector;
        this.conn = conn;
    }

    static JmxTarget connect(String host, int port, String user, String password, String wanted) throws IOException {
        String endpoint = host + ":" + port;
        Map<String, Object> env = new HashMap<>();
        if (user != null) env.put(JMXConnector.CREDENTIALS, new String[] {user, password});
        JMXConnector c;
        try {
            c = JMXConnectorFactory.connect(
                    JmxRemote.clientUrl(host.contains(":") ? "[" + host + "]" : host, port), env);
        } catch (IOException | SecurityException e) {
            throw new IOException("cannot reach JMX at " + endpoint + ": " + rootMessage(e), e);
        }
        try {
            MBeanServerConnection conn = c.getMBeanServerConnection();
            Set<ObjectName> arrays = conn.queryNames(new ObjectName(JmxExport.DOMAIN + ":type=Array,*"), null);
            List<String> names = arrays.stream()
                    .map(n -> ObjectName.unquote(quoted(n.getKeyProperty("name"))))
                    .sorted()
                    .toList();
            String name;
            if (wanted != null) {
                if (!names.contains(wanted))
                    throw new IOException(endpoint + " runs no array '" + wanted + "' (it runs " + names + ")");
                name = wanted;
            } else if (names.size() == 1) {
                name = names.get(0);
            } else {
                throw new IOException(
                        endpoint + " runs " + (names.isEmpty() ? "no array" : names + ": name one with --name"));
            }
            return new JmxTarget(endpoint, name, c, conn);
        } catch (IOException | JMException | RuntimeException e) {
            c.close();
            if (e instanceof IOException io) throw io;
            throw new IOException(endpoint + ": " + rootMessage(e), e);
        }
    }

    private static String quoted(String v) {
        return v.startsWith("\"") ? v : ObjectName.quote(v);
    }

    Map<String, Object> arrayAttributes() throws IOException {
        return attributes(JmxExport.arrayName(array));
    }

    Map<String, Object> clusterAttributes() throws IOException {
        return attributes(JmxExport.clusterName(array));
    }

    /** Every Device MBean's attributes, by Slot (numbers first) then Path. */
    List<Map<String, Object>> devices() throws IOException {
        List<Map<String, Object>> res = new ArrayList<>();
        for (ObjectName n : conn.queryNames(JmxExport.devicePattern(array), null)) {
            try {
                res.add(attributes(n));
            } catch (IOException e) {
                // removed between the query and the read
            }
        }
        res.sort(Comparator.comparing((Map<String, Object> d) -> slotKey(d.get("Slot")))
                .thenComparing(d -> String.valueOf(d.get("Path"))));
        return res;
    }

    private static int slotKey(Object slot) {
        try {
            return Integer.parseInt(String.valueOf(slot));
        } catch (NumberFormatException e) {
            return Integer.MAX_VALUE;
        }
    }

    private Map<String, Object> attributes(ObjectName name) throws IOException {
        try {
            MBeanAttributeInfo[] infos = conn.getMBeanInfo(name).getAttributes();
            String[] names = new String[infos.length];
            for (int i = 0; i < infos.length; i++) names[i] = infos[i].getName();
            AttributeList values = conn.getAttributes(name, names);
            Map<String, Object> got = new HashMap<>();
            for (Attribute a : values.asList()) got.put(a.getName(), plain(a.getValue()));
            Map<String, Object> res = new LinkedHashMap<>();
            for (String n : names) if (got.containsKey(n)) res.put(n, got.get(n));
            return res;
        } catch (JMException | RuntimeException e) {
            throw new IOException(endpoint + ": reading " + name + ": " + rootMessage(e), e);
        }
    }

    /** Arrays as lists, for the JSON writer. */
    private static Object plain(Object v) {
        if (v == null || !v.getClass().isArray()) return v;
        List<Object> l = new ArrayList<>();
        for (int i = 0; i < Array.getLength(v); i++) l.add(Array.get(v, i));
        return l;
    }

    void setArrayAttribute(String attribute, Object value) throws IOException {
        try {
            conn.setAttribute(JmxExport.arrayName(array), new Attribute(attribute, value));
        } catch (JMException | RuntimeException e) {
            throw refused(e);
        }
    }

    void invoke(String operation, int argument) throws IOException {
        try {
            conn.invoke(
                    JmxExport.arrayName(array), operation, new Object[] {argument}, new String[] {int.class.getName()});
        } catch (JMException | RuntimeException e) {
            throw refused(e);
        }
    }

    void invoke(String operation, String argument) throws IOException {
        try {
            conn.invoke(
                    JmxExport.arrayName(array), operation, new Object[] {argument}, new String[] {String.class.getName()
                    });
        } catch (JMException | RuntimeException e) {
            throw refused(e);
        }
    }

    private IOException refused(Exception e) {
        return new IOException(array + " on " + endpoint + " refused: " + rootMessage(e), e);
    }

    /** The deepest message in the cause chain: a refusal's own words, not the JMX and RMI wrappers'. */
    static String rootMessage(Throwable e) {
        String message = e.toString();
        for (Throwable t = e; t != null; t = t.getCause() == t ? null : t.getCause()) {
            if (t.getMessage() != null) message = t.getMessage();
        }
        return message;
    }

    @Override
    public void close() {
        try {
            connector.close();
        } catch (IOException e) {
            // the node went away; nothing to release here
        }
    }
}
