package org.clustermd.dlm.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.apache.zookeeper.server.auth.AuthenticationProvider;
import org.apache.zookeeper.server.auth.ProviderRegistry;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;

/**
 * Opens a server's snapshot and transaction log and applies the JVM-wide knobs ZooKeeper reads
 * from system properties (forceSync, authentication providers) in one place.
 *
 * <p>Thread-safe: the system-property dance is serialised on a class-wide lock.
 */
final class ServerStorage {
    private static final String FORCE_SYNC = "zookeeper.forceSync";
    private static final Object PROPERTY_LOCK = new Object();

    private ServerStorage() {}

    /**
     * Creates both directories and opens the log. ZooKeeper's FileTxnLog reads
     * {@code zookeeper.forceSync} when it is constructed, so the property is set for the
     * duration of the constructor and put back afterwards; other servers in this JVM keep
     * their own choice. (A follower that truncates its log during a sync reopens it and then
     * reads the property as it stands.)
     */
    static FileTxnSnapLog open(Path dataDir, Path dataLogDir, boolean forceSync) throws EmbeddedServerException {
        createDirectory(dataDir);
        createDirectory(dataLogDir);
        synchronized (PROPERTY_LOCK) {
            String previous = System.getProperty(FORCE_SYNC);
            System.setProperty(FORCE_SYNC, forceSync ? "yes" : "no");
            try {
                return new FileTxnSnapLog(dataLogDir.toFile(), dataDir.toFile());
            } catch (IOException e) {
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.DATA_DIR,
                        "cannot open the ZooKeeper data in " + dataDir + " (log " + dataLogDir + "): " + e.getMessage(),
                        e);
            } finally {
                if (previous == null) {
                    System.clearProperty(FORCE_SYNC);
                } else {
                    System.setProperty(FORCE_SYNC, previous);
                }
            }
        }
    }

    static void createDirectory(Path dir) throws EmbeddedServerException {
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.DATA_DIR, "cannot create directory " + dir + ": " + e, e);
        }
        if (!Files.isWritable(dir)) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.DATA_DIR, "directory " + dir + " is not writable");
        }
    }

    /**
     * Registers extra authentication providers in ZooKeeper's JVM-wide registry. The class is
     * checked first: ZooKeeper itself only logs a provider it cannot load.
     */
    static void registerAuthProviders(Map<String, String> providers) throws EmbeddedServerException {
        synchronized (PROPERTY_LOCK) {
            for (Map.Entry<String, String> p : providers.entrySet()) {
                checkProviderClass(p.getValue());
                String property = ProviderRegistry.AUTHPROVIDER_PROPERTY_PREFIX + p.getKey();
                System.setProperty(property, p.getValue());
                ProviderRegistry.initialize();
                ProviderRegistry.addOrUpdateProvider(property);
            }
        }
    }

    private static void checkProviderClass(String className) throws EmbeddedServerException {
        try {
            Class<?> type = Class.forName(className, false, ServerStorage.class.getClassLoader());
            if (!AuthenticationProvider.class.isAssignableFrom(type)) {
                throw new EmbeddedServerException(
                        EmbeddedServerException.Code.START,
                        "authentication provider " + className + " does not implement "
                                + AuthenticationProvider.class.getName());
            }
        } catch (ClassNotFoundException | LinkageError e) {
            throw new EmbeddedServerException(
                    EmbeddedServerException.Code.START,
                    "authentication provider " + className + " is not on the classpath: " + e,
                    e);
        }
    }
}
