package org.clustermd.cluster.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.concurrent.Callable;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.zk.DlmCredentials;
import org.clustermd.dlm.zk.LockSpaceDump;
import org.clustermd.dlm.zk.ZkLockManager;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd dlm}: the lock manager's operator verbs. Today: {@code dump}.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(name = "dlm", description = "Inspect the lock manager.", subcommands = DlmCommand.Dump.class)
final class DlmCommand implements Runnable {
    @Spec
    CommandSpec spec;

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing verb: dump");
    }

    /**
     * {@code clustermd dlm dump --zk HOST:PORT --cluster C [--json]}: members and slots of every
     * lockspace of the cluster, and for each resource its granted, converting and waiting locks
     * with their modes and the LVB in hex (the analog of {@code dlm_tool lockdump}).
     */
    @Command(
            name = "dump",
            description = "List every lockspace of a cluster: members and slots, and for each resource its granted, "
                    + "converting and waiting locks with their modes and the value block in hex.")
    static final class Dump implements Callable<Integer> {
        @Spec
        CommandSpec spec;

        @Option(
                names = "--zk",
                required = true,
                paramLabel = "HOST:PORT[,...]",
                description = "ZooKeeper connect string.")
        String zk;

        @Option(names = "--cluster", required = true, paramLabel = "NAME", description = "Cluster name.")
        String cluster;

        @Option(names = "--json", description = "One JSON object on stdout instead of text.")
        boolean json;

        @Option(
                names = "--root",
                defaultValue = "/clustermd",
                paramLabel = "PATH",
                description = "The znode that holds all clusters (default: ${DEFAULT-VALUE}).")
        String root;

        @Option(
                names = "--digest",
                paramLabel = "USER:PASSWORD",
                description = "ZooKeeper digest credentials, when the cluster uses them (--zk-auth-file keeps them "
                        + "off the command line).")
        String digest;

        @Mixin
        ZkClientOptions zkClient = new ZkClientOptions();

        @Override
        public Integer call() throws DlmException {
            try {
                ZkConnectString.check(zk);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--zk: " + e.getMessage());
            }
            if (digest != null && zkClient.authFile != null)
                throw new ParameterException(spec.commandLine(), "give --digest or --zk-auth-file, not both");
            DlmCredentials creds = zkClient.credentials(spec);
            if (digest != null) {
                int colon = digest.indexOf(':');
                if (colon <= 0) {
                    throw new ParameterException(spec.commandLine(), "--digest must be USER:PASSWORD");
                }
                creds = DlmCredentials.digest(digest.substring(0, colon), digest.substring(colon + 1));
                if (zkClient.clientConfig != null)
                    creds = creds.overTls(zkClient.credentials(spec).tls());
            }
            LockSpaceDump.Dump d;
            try (ZkLockManager m = ZkLockManager.builder()
                    .connectString(zk)
                    .cluster(cluster)
                    .nodeName("dlm-dump")
                    .root(root)
                    .credentials(creds)
                    .connectionTimeout(Duration.ofSeconds(10))
                    .build()) {
                d = LockSpaceDump.read(m.curator().getZookeeperClient().getZooKeeper(), root, cluster);
            } catch (DlmException e) {
                throw e;
            } catch (Exception e) {
                throw new DlmException(
                        DlmException.Code.UNAVAILABLE, "reading ZooKeeper at " + zk + ": " + e.getMessage(), e);
            }
            PrintWriter out = spec.commandLine().getOut();
            if (json) {
                out.println(Json.write(d));
            } else {
                printText(out, d);
            }
            out.flush();
            return 0;
        }

        private static void printText(PrintWriter out, LockSpaceDump.Dump d) {
            out.println("cluster " + d.cluster());
            if (d.lockSpaces().isEmpty()) {
                out.println("  no lockspaces");
            }
            for (LockSpaceDump.LockSpaceInfo ls : d.lockSpaces()) {
                out.println("lockspace " + ls.name());
                for (LockSpaceDump.Member m : ls.members()) {
                    out.printf("  member  slot %-3d %-20s incarnation %s%n", m.slot(), m.nodeName(), m.incarnation());
                }
                for (LockSpaceDump.Resource r : ls.resources()) {
                    out.printf(
                            "  resource %-14s version %-6d lvb %s%s%n",
                            r.name(),
                            r.version(),
                            r.valueBlock().isEmpty() ? "(zeros)" : r.valueBlock(),
                            r.valueBlockValid() ? "" : " (NOT VALID)");
                    for (LockSpaceDump.Lock l : r.granted()) {
                        out.printf("    granted     slot %-3d lock %-4d %-2s%n", l.slot(), l.lockId(), l.granted());
                    }
                    for (LockSpaceDump.Lock l : r.converting()) {
                        out.printf(
                                "    converting  slot %-3d lock %-4d %-2s -> %s  seq %d%n",
                                l.slot(), l.lockId(), l.granted(), l.requested(), l.seq());
                    }
                    for (LockSpaceDump.Lock l : r.waiting()) {
                        out.printf(
                                "    waiting     slot %-3d lock %-4d    -> %s  seq %d%n",
                                l.slot(), l.lockId(), l.requested(), l.seq());
                    }
                }
            }
        }
    }
}
