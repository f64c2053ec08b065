package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import org.clustermd.cluster.ClusterCoordinator;
import org.clustermd.cluster.ClusteredArray;
import org.clustermd.cluster.GlobDeviceLocator;
import org.clustermd.cluster.jmx.JmxExport;
import org.clustermd.cluster.jmx.JmxRemote;
import org.clustermd.cluster.jmx.JmxSettings;
import org.clustermd.cluster.nbd.ClusteredArrayTarget;
import org.clustermd.cluster.nbd.NbdServer;
import org.clustermd.dlm.zk.DlmCredentials;
import org.clustermd.raid1.ArrayListener;
import org.clustermd.raid1.AssemblySurvey;
import org.clustermd.raid1.FenceReason;
import org.clustermd.raid1.KickedLeg;
import org.clustermd.raid1.Raid1Array;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.admin.LegIdentity;
import org.clustermd.raid1.verify.BlockTarget;
import org.clustermd.raid1.verify.StampedBlock;
import org.clustermd.raid1.verify.Workload;
import org.clustermd.raid1.verify.WriteLedger;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd node}: joins the array's cluster with a {@link ClusterCoordinator},
 * assembles the array on this node's bitmap slot and runs until SIGTERM or SIGINT (graceful
 * leave, exit 0) or until the array fences itself (exit 1). Progress lines on stdout are
 * {@link NodeProgress}'s.
 *
 * <p>The hidden options drive tests: {@code --workload OFFSET:LENGTH} writes stamped blocks
 * into that region without pause, and {@code --ack-log FILE} records every acknowledged write in
 * an fsync'd {@link AckLog}.
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "node",
        description = "Join the array's cluster and run the array on this node until SIGTERM. Assembles it on this "
                + "node's bitmap slot; recovers and resyncs dead nodes' dirty chunks; leaves gracefully on SIGTERM "
                + "or Ctrl-C (exit 0).")
final class NodeCommand implements Callable<Integer> {
    private static final Pattern NODE_NAME = Pattern.compile("[A-Za-z0-9._-]{1,128}");

    @Spec
    CommandSpec spec;

    @Option(
            names = "--name",
            required = true,
            paramLabel = "NAME",
            description = "The array name, as created (set_name).")
    String name;

    @Option(names = "--zk", required = true, paramLabel = "HOST:PORT[,...]", description = "ZooKeeper connect string.")
    String zk;

    @Mixin
    ZkClientOptions zkClient = new ZkClientOptions();

    @Option(
            names = "--node-name",
            required = true,
            paramLabel = "X",
            description = "This node's name, stable across restarts (it gets its slot back when free).")
    String nodeName;

    @Option(
            names = "--session-timeout",
            defaultValue = "10000",
            paramLabel = "MS",
            description = "ZooKeeper session timeout: a dead node is recovered about this long after it stopped "
                    + "(default: ${DEFAULT-VALUE}).")
    long sessionTimeoutMs;

    @Option(
            names = "--jmx-port",
            paramLabel = "P",
            description =
                    "Serve JMX remotely on this port: with --jmx-config (password, access and TLS settings, the JDK's "
                            + "management.properties keys) or --jmx-insecure-localhost.")
    Integer jmxPort;

    @Option(
            names = "--jmx-config",
            paramLabel = "FILE",
            description = "management.properties-style file: com.sun.management.jmxremote.password.file, .access.file, "
                    + "javax.net.ssl.keyStore, ...")
    Path jmxConfig;

    @Option(
            names = "--jmx-insecure-localhost",
            description = "JMX without authentication or TLS, bound to 127.0.0.1 only.")
    boolean jmxInsecureLocalhost;

    @Option(names = "--sync-speed-min", paramLabel = "KIB", description = "sync_speed_min at start, KiB/s.")
    Long syncSpeedMin;

    @Option(names = "--sync-speed-max", paramLabel = "KIB", description = "sync_speed_max at start, KiB/s.")
    Long syncSpeedMax;

    @Option(
            names = "--nbd-port",
            paramLabel = "Q",
            description =
                    "Serve the array over NBD on this TCP port (export name: the array name; 0 picks a free port).")
    Integer nbdPort;

    @Option(
            names = "--nbd-bind",
            paramLabel = "ADDR",
            description = "The address the NBD export listens on (default 127.0.0.1: NBD has no authentication).")
    String nbdBind;

    @Option(
            names = "--run",
            description = "Start even with fewer legs than the array last had (mdadm --assemble --run); "
                    + "the legs left out are recorded as missing and must be re-added and recovered.")
    boolean run;

    @Option(
            names = "--workload",
            hidden = true,
            paramLabel = "OFFSET:LENGTH",
            description = "Tests: write stamped blocks into this region of the array without pause.")
    String workload;

    @Option(
            names = "--ack-log",
            hidden = true,
            paramLabel = "FILE",
            description = "Tests: record every acknowledged write here.")
    Path ackLog;

    @Option(
            names = "--scan",
            paramLabel = "GLOB",
            description = "Where to look for a device another node adds (repeatable, e.g. '/dev/disk/by-id/lun-*'): "
                    + "each match's md superblock is read for the device UUID the add names. Without it this node "
                    + "refuses every add while it runs.")
    List<String> scan;

    @Parameters(
            arity = "1..*",
            paramLabel = "LEG",
            description = "The legs (the same devices on every node; paths may differ).")
    List<Path> legs;

    @Override
    public Integer call() throws IOException, InterruptedException {
        long[] region = checkOptions();
        DlmCredentials credentials = zkClient.credentials(spec);
        InetAddress nbdAddress = nbdAddress();
        List<Path> usable = usableLegs();
        NodeProgress progress = new NodeProgress(spec.commandLine().getOut());
        ForegroundSignals signals = ForegroundSignals.install();
        ClusteredArray.Builder builder = ClusteredArray.builder()
                .name(name)
                .legs(usable)
                .zooKeeper(zk)
                .credentials(credentials)
                .nodeName(nodeName)
                .sessionTimeout(Duration.ofMillis(sessionTimeoutMs))
                .connectionTimeout(Duration.ofMillis(Math.min(15_000, sessionTimeoutMs)))
                .listener(progress);
        if (scan != null && !scan.isEmpty()) builder.deviceLocator(new GlobDeviceLocator(scan));
        if (syncSpeedMin != null) builder.syncSpeedMin(syncSpeedMin);
        if (syncSpeedMax != null) builder.syncSpeedMax(syncSpeedMax);
        ClusteredArray md = builder.open();
        Raid1Array array = md.engine();
        ClusterCoordinator cluster = md.coordinator().orElseThrow();
        Thread hook = new Thread(md::close, "clustermd-node-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        SyncProgress sync = new SyncProgress(array, progress);
        Workload.Handle running = null;
        AckLog acks = null;
        JmxExport jmx = null;
        JmxRemote remote = null;
        NbdServer nbd = null;
        String why;
        try {
            jmx = JmxExport.register(md, java.lang.management.ManagementFactory.getPlatformMBeanServer());
            if (jmxPort != null) {
                remote = JmxRemote.start(
                        jmxPort,
                        jmxInsecureLocalhost ? JmxSettings.insecureLocalhost() : JmxSettings.load(jmxConfig),
                        java.lang.management.ManagementFactory.getPlatformMBeanServer());
                progress.say("jmx " + remote.url());
            }
            array.addListener(new ArrayListener() {
                @Override
                public void fenced(FenceReason reason, Throwable cause) {
                    signals.stop("fenced: " + reason);
                }
            });
            progress.say("joined slot " + cluster.slotNumber() + " of "
                    + array.bitmap().orElseThrow().geometry().slots()
                    + " as " + nodeName + " (cluster " + array.clusterName() + "); " + name + ": "
                    + array.mirrors().mirrors().size()
                    + " legs, " + array.size() / 1024 + " KiB");
            cluster.negotiatedSessionTimeout()
                    .filter(t -> t.toMillis() != sessionTimeoutMs)
                    .ifPresent(t -> progress.say("ZooKeeper granted a session timeout of " + t.toMillis()
                            + " ms, not the " + sessionTimeoutMs
                            + " ms asked (its servers allow 2 to 20 ticks): a dead node is recovered after "
                            + t.toMillis() + " ms"));
            sync.start();
            if (nbdPort != null) {
                nbd = NbdServer.builder()
                        .bind(nbdAddress)
                        .port(nbdPort)
                        .export(new ClusteredArrayTarget(md))
                        .start();
                progress.nbdExport(name, nbd.address().getAddress().getHostAddress(), nbd.port());
            }
            if (region != null) {
                long writer = cluster.slotNumber() + 1L;
                acks = AckLog.create(ackLog, writer);
                Workload w = Workload.builder(logged(array, acks), new WriteLedger())
                        .writer(writer)
                        .seed(writer * 7919)
                        .region(region[0], region[0] + region[1])
                        .queueDepth(8)
                        .maxBlocks(16)
                        .flushEvery(64)
                        .fuaPercent(5)
                        .stopOnError(true)
                        .build();
                running = w.start();
                progress.say("writing [" + region[0] + ", " + (region[0] + region[1]) + ") as writer " + writer);
            }
            why = signals.await();
        } finally {
            long acked = 0;
            if (running != null) {
                try {
                    Workload.Result r = running.stop();
                    acked = r.acknowledged();
                    if (!r.errors().isEmpty())
                        progress.say("workload errors: " + r.errors().get(0));
                } catch (IllegalStateException e) {
                    progress.say("workload failed: " + e.getCause());
                }
            }
            if (acks != null) acks.close();
            if (nbd != null) nbd.close(); // lets the clients' requests in flight finish while the array still runs
            progress.say("stopping (" + (signals.reason() == null ? "error" : signals.reason()) + "): " + acked
                    + " writes acknowledged");
            sync.close();
            if (remote != null) remote.close();
            if (jmx != null) jmx.close();
            md.close();
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException e) {
                // already shutting down: the hook finds the array closed
            }
        }
        if (why != null && why.startsWith("SIG")) {
            progress.say("left the cluster");
            return 0;
        }
        spec.commandLine().getErr().println("clustermd node: " + why);
        return 1;
    }

    /** Checks the options; returns the workload region {offset, length} in bytes, or null. */
    private long[] checkOptions() {
        if (!NODE_NAME.matcher(nodeName).matches()) {
            throw usage("--node-name must be 1 to 128 of [A-Za-z0-9._-]: '" + nodeName + "'");
        }
        try {
            ZkConnectString.check(zk);
        } catch (IllegalArgumentException e) {
            throw usage("--zk: " + e.getMessage());
        }
        if (sessionTimeoutMs <= 0 || sessionTimeoutMs > Integer.MAX_VALUE) {
            throw usage("--session-timeout must be a positive number of milliseconds: " + sessionTimeoutMs);
        }
        if (jmxPort != null && (jmxPort < 1 || jmxPort > 65535)) throw usage("--jmx-port must be 1..65535: " + jmxPort);
        if (jmxPort == null && (jmxConfig != null || jmxInsecureLocalhost))
            throw usage("--jmx-config and --jmx-insecure-localhost go with --jmx-port");
        if (jmxPort != null && (jmxConfig != null) == jmxInsecureLocalhost) {
            throw usage(
                    "--jmx-port needs --jmx-config FILE (authentication and TLS) or --jmx-insecure-localhost (127.0.0.1 only)");
        }
        if (syncSpeedMin != null && syncSpeedMin < 1)
            throw usage("--sync-speed-min must be a positive number of KiB/s: " + syncSpeedMin);
        if (syncSpeedMax != null && syncSpeedMax < 1)
            throw usage("--sync-speed-max must be a positive number of KiB/s: " + syncSpeedMax);
        if (syncSpeedMin != null && syncSpeedMax != null && syncSpeedMin > syncSpeedMax) {
            throw usage("--sync-speed-min " + syncSpeedMin + " is above --sync-speed-max " + syncSpeedMax);
        }
        if ((workload == null) != (ackLog == null)) throw usage("--workload and --ack-log go together");
        if (workload == null) return null;
        int colon = workload.indexOf(':');
        if (colon <= 0) throw usage("--workload must be OFFSET:LENGTH: '" + workload + "'");
        try {
            long off = Sizes.parse(workload.substring(0, colon));
            long len = Sizes.parse(workload.substring(colon + 1));
            if (off % StampedBlock.SIZE != 0 || len % StampedBlock.SIZE != 0 || len == 0) {
                throw usage("--workload must be whole 4 KiB blocks: '" + workload + "'");
            }
            return new long[] {off, len};
        } catch (IllegalArgumentException e) {
            throw usage("--workload: " + e.getMessage());
        }
    }

    /** The address for --nbd-bind (127.0.0.1 by default), checked before anything starts. */
    private InetAddress nbdAddress() {
        if (nbdPort == null) {
            if (nbdBind != null) throw usage("--nbd-bind needs --nbd-port");
            return null;
        }
        if (nbdPort < 0 || nbdPort > 65535) throw usage("--nbd-port must be 0..65535: " + nbdPort);
        if (nbdBind == null) return InetAddress.getLoopbackAddress();
        try {
            return InetAddress.getByName(nbdBind);
        } catch (UnknownHostException e) {
            throw usage("--nbd-bind: unknown address '" + nbdBind + "'");
        }
    }

    /**
     * The legs to assemble, as mdadm --assemble decides before it starts an array: the same leg
     * twice is refused; a leg that would not be used (another array, a corrupted or non-fresh
     * superblock) is named on stdout with the reason; and fewer legs than the array last had is
     * refused unless --run, because starting would record the others as missing for good
     * (mdadm: "need all N to start it (use --run to insist)").
     */
    private List<Path> usableLegs() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        try {
            LegIdentity.requireDistinct(legs);
        } catch (Raid1Exception e) {
            out.println("not starting: " + e.getMessage());
            out.flush();
            throw e;
        }
        AssemblySurvey survey = AssemblySurvey.of(legs, name);
        for (KickedLeg k : survey.unusable()) out.println(k.name() + ": not used: " + k.reason());
        out.flush();
        if (survey.degraded() && !run) {
            String why = survey.unusable().isEmpty()
                    ? ""
                    : "; " + survey.unusable().get(0).name() + ": "
                            + survey.unusable().get(0).reason();
            out.println("not starting " + name + " with " + survey.usableRoles() + " of its " + survey.listedRoles()
                    + " legs: use --run to insist");
            out.flush();
            throw new Raid1Exception(
                    Raid1Exception.Code.ASSEMBLY,
                    name + ": not starting with " + survey.usableRoles()
                            + " of its " + survey.listedRoles()
                            + " legs (the others would be recorded as missing; use --run to insist)"
                            + why);
        }
        return survey.usable();
    }

    private ParameterException usage(String message) {
        return new ParameterException(spec.commandLine(), message);
    }

    /** The array's data path, appending each acknowledged write to {@code acks} before the workload hears of it. */
    private static BlockTarget logged(Raid1Array array, AckLog acks) {
        BlockTarget plain = BlockTarget.of(array);
        return new BlockTarget() {
            @Override
            public long size() {
                return plain.size();
            }

            @Override
            public CompletableFuture<Void> writeAsync(long offset, ByteBuffer src, boolean fua) {
                StampedBlock.Stamp stamp = StampedBlock.read(src, src.position(), offset);
                int blocks = src.remaining() / StampedBlock.SIZE;
                return plain.writeAsync(offset, src, fua).thenApply(v -> {
                    acks.append(offset, blocks, stamp.writeId());
                    return v;
                });
            }

            @Override
            public CompletableFuture<Void> readAsync(long offset, ByteBuffer dst) {
                return plain.readAsync(offset, dst);
            }

            @Override
            public CompletableFuture<Void> flushAsync() {
                return plain.flushAsync();
            }
        };
    }
}
