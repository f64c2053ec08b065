package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.InputStream;
import java.util.Properties;
import picocli.CommandLine.IVersionProvider;

/**
 * {@code clustermd --version}: this build's version (from the filtered
 * {@code clustermd-version.properties}), the ZooKeeper client/server version it carries, and
 * the Java runtime.
 *
 * <p>Stateless; thread-safe.
 */
public final class ClusterMdVersion implements IVersionProvider {
    private static final String RESOURCE = "/clustermd-version.properties";

    /** This build's version, e.g. {@code 0.1.0-SNAPSHOT}, or "unknown" outside a Maven build. */
    public static String version() {
        try (InputStream in = ClusterMdVersion.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                return "unknown";
            }
            Properties p = new Properties();
            p.load(in);
            return p.getProperty("version", "unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    @Override
    public String[] getVersion() {
        return new String[] {
            "clustermd " + version(),
            "ZooKeeper " + org.apache.zookeeper.Version.getFullVersion(),
            "Java " + Runtime.version() + " (" + System.getProperty("java.vendor", "?") + ")",
        };
    }
}
