package org.clustermd.dlm.server;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * Server-side settings shared by the standalone server and both ensembles: the address the
 * client port binds to (127.0.0.1 unless told otherwise), tickTime, the session timeout range,
 * forceSync, the per-host connection limit and extra server authentication providers.
 *
 * <p>ZooKeeper clamps every session timeout a client asks for into
 * [{@link #minSessionTimeoutMs()}, {@link #maxSessionTimeoutMs()}], which default to 2 and 20
 * tickTimes; set the range explicitly when a test needs short sessions without a short tick.
 *
 * <p>Immutable and thread-safe; build one with {@link #builder()}.
 */
public final class ZooKeeperSettings {
    /** The only address the servers bind to by default. */
    public static final String LOOPBACK = "127.0.0.1";

    private final String bindAddress;
    private final int tickTimeMs;
    private final int minSessionTimeoutMs;
    private final int maxSessionTimeoutMs;
    private final boolean forceSync;
    private final int maxClientCnxns;
    private final Map<String, String> authProviders;

    private ZooKeeperSettings(Builder b) {
        this.bindAddress = b.bindAddress;
        this.tickTimeMs = b.tickTimeMs;
        this.minSessionTimeoutMs = b.minSessionTimeoutMs > 0 ? b.minSessionTimeoutMs : 2 * b.tickTimeMs;
        this.maxSessionTimeoutMs = b.maxSessionTimeoutMs > 0 ? b.maxSessionTimeoutMs : 20 * b.tickTimeMs;
        this.forceSync = b.forceSync;
        this.maxClientCnxns = b.maxClientCnxns;
        this.authProviders = Map.copyOf(b.authProviders);
    }

    /** ZooKeeper's own defaults (tickTime 2000 ms, sessions 4-40 s, forceSync on), on 127.0.0.1. */
    public static ZooKeeperSettings defaults() {
        return builder().build();
    }

    /**
     * Settings for tests: tickTime 250 ms so expiry is noticed quickly, sessions of 1-60 s,
     * forceSync off (the data of a test server is disposable).
     */
    public static ZooKeeperSettings forTests() {
        return builder()
                .tickTimeMs(250)
                .sessionTimeoutRangeMs(1_000, 60_000)
                .forceSync(false)
                .build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder that starts from these settings. */
    public Builder toBuilder() {
        Builder b = new Builder()
                .bindAddress(bindAddress)
                .tickTimeMs(tickTimeMs)
                .sessionTimeoutRangeMs(minSessionTimeoutMs, maxSessionTimeoutMs)
                .forceSync(forceSync)
                .maxClientCnxns(maxClientCnxns);
        authProviders.forEach(b::authProvider);
        return b;
    }

    public String bindAddress() {
        return bindAddress;
    }

    public int tickTimeMs() {
        return tickTimeMs;
    }

    /** The smallest session timeout the server grants (explicit, or 2 x tickTime). */
    public int minSessionTimeoutMs() {
        return minSessionTimeoutMs;
    }

    /** The largest session timeout the server grants (explicit, or 20 x tickTime). */
    public int maxSessionTimeoutMs() {
        return maxSessionTimeoutMs;
    }

    /** Whether the transaction log is fsynced before a write is acknowledged. */
    public boolean forceSync() {
        return forceSync;
    }

    /** Connections allowed from one client address; 0 means unlimited. */
    public int maxClientCnxns() {
        return maxClientCnxns;
    }

    /**
     * Extra server authentication providers: key (the part after
     * {@code zookeeper.authProvider.}) to provider class name.
     */
    public Map<String, String> authProviders() {
        return authProviders;
    }

    @Override
    public String toString() {
        return "ZooKeeperSettings[bind=" + bindAddress + ", tickTime=" + tickTimeMs + "ms, sessions="
                + minSessionTimeoutMs + ".." + maxSessionTimeoutMs + "ms, forceSync=" + forceSync
                + ", maxClientCnxns=" + maxClientCnxns + ", authProviders=" + authProviders + "]";
    }

    /** Collects settings; {@link #build()} checks them. Not thread-safe. */
    public static final class Builder {
        private String bindAddress = LOOPBACK;
        private int tickTimeMs = 2000;
        private int minSessionTimeoutMs = -1;
        private int maxSessionTimeoutMs = -1;
        private boolean forceSync = true;
        private int maxClientCnxns = 60;
        private final Map<String, String> authProviders = new LinkedHashMap<>();

        private Builder() {}

        /** The address of the client port (and, in an ensemble, quorum and election ports). */
        public Builder bindAddress(String address) {
            this.bindAddress = Objects.requireNonNull(address, "bindAddress");
            return this;
        }

        public Builder tickTimeMs(int ms) {
            this.tickTimeMs = ms;
            return this;
        }

        /** Both ends of the session timeout range; -1 for either means ZooKeeper's default. */
        public Builder sessionTimeoutRangeMs(int minMs, int maxMs) {
            this.minSessionTimeoutMs = minMs;
            this.maxSessionTimeoutMs = maxMs;
            return this;
        }

        public Builder minSessionTimeoutMs(int ms) {
            this.minSessionTimeoutMs = ms;
            return this;
        }

        public Builder maxSessionTimeoutMs(int ms) {
            this.maxSessionTimeoutMs = ms;
            return this;
        }

        public Builder forceSync(boolean on) {
            this.forceSync = on;
            return this;
        }

        public Builder maxClientCnxns(int count) {
            this.maxClientCnxns = count;
            return this;
        }

        /**
         * Registers a server authentication provider, e.g. {@code authProvider("x509",
         * "org.apache.zookeeper.server.auth.X509AuthenticationProvider")}. ZooKeeper keeps
         * providers in a JVM-wide registry (system property {@code zookeeper.authProvider.KEY}),
         * so a provider stays registered after the server stops.
         */
        public Builder authProvider(String key, String className) {
            authProviders.put(Objects.requireNonNull(key, "key"), Objects.requireNonNull(className, "className"));
            return this;
        }

        public ZooKeeperSettings build() {
            if (tickTimeMs <= 0) {
                throw new IllegalArgumentException("tickTime must be positive, got " + tickTimeMs + " ms");
            }
            if (maxClientCnxns < 0) {
                throw new IllegalArgumentException("maxClientCnxns must be >= 0, got " + maxClientCnxns);
            }
            int min = minSessionTimeoutMs > 0 ? minSessionTimeoutMs : 2 * tickTimeMs;
            int max = maxSessionTimeoutMs > 0 ? maxSessionTimeoutMs : 20 * tickTimeMs;
            if (min > max) {
                throw new IllegalArgumentException(
                        "minSessionTimeout " + min + " ms exceeds maxSessionTimeout " + max + " ms");
            }
            if (bindAddress.isBlank()) {
                throw new IllegalArgumentException("bindAddress is blank");
            }
            return new ZooKeeperSettings(this);
        }
    }
}
