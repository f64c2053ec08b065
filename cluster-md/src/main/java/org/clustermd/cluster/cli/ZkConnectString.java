package org.clustermd.cluster.cli;

/**
 * Checks a ZooKeeper connect string on the command line ({@code HOST:PORT[,HOST:PORT...][/chroot]}),
 * so that a typo is a usage error naming it rather than a background exception from the
 * ZooKeeper client long after the command started.
 *
 * <p>Stateless and thread-safe.
 */
final class ZkConnectString {
    private ZkConnectString() {}

    /** @throws IllegalArgumentException saying what is wrong with {@code s} */
    static void check(String s) {
        if (s == null || s.isBlank()) throw new IllegalArgumentException("empty: give HOST:PORT[,HOST:PORT...]");
        String hosts = s;
        int slash = s.indexOf('/');
        if (slash >= 0) {
            hosts = s.substring(0, slash);
            String chroot = s.substring(slash);
            if (chroot.length() > 1 && (chroot.endsWith("/") || chroot.contains("//"))) {
                throw new IllegalArgumentException("'" + s + "': bad chroot path '" + chroot + "'");
            }
        }
        for (String hp : hosts.split(",", -1)) {
            int colon = hp.lastIndexOf(':');
            if (colon <= 0 || hp.startsWith("[") != hp.contains("]")) {
                throw new IllegalArgumentException("'" + s + "': '" + hp + "' is not HOST:PORT");
            }
            String host = hp.substring(0, colon);
            if (!host.startsWith("[") && host.contains(":")) {
                throw new IllegalArgumentException(
                        "'" + s + "': '" + hp + "' is not HOST:PORT (an IPv6 address goes in [])");
            }
            if (!host.matches("\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9._-]+")) {
                throw new IllegalArgumentException("'" + s + "': '" + host + "' is not a host name or address");
            }
            String port = hp.substring(colon + 1);
            int p;
            try {
                p = Integer.parseInt(port);
            } catch (NumberFormatException e) {
                p = -1;
            }
            if (p < 1 || p > 65535)
                throw new IllegalArgumentException("'" + s + "': port '" + port + "' is not 1..65535");
        }
    }
}
