package org.clustermd.cluster.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.clustermd.raid1.SyncAction;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code clustermd manage --jmx HOST:PORT <one change>}: the mdadm {@code --manage} and
 * {@code --grow} analog, applied through the node's Array MBean. Exactly one change per run;
 * the node's refusal (with md's reason) is printed and exits 1, so a refused change never looks
 * done. {@code --grow --size} only grows (a shrink is refused by the node). What the engine
 * cannot do yet is refused here, clearly: {@code --add-spare} on a degraded array (the engine
 * gives every added device the missing role).
 *
 * <p>Not thread-safe: picocli fills one instance per command line.
 */
@Command(
        name = "manage",
        description = {
            "Change a running array through a node's JMX (mdadm --manage / --grow).",
            "",
            "Examples:",
            "  clustermd manage --jmx 127.0.0.1:9010 --fail /dev/disk/by-id/lun-b",
            "  clustermd manage --jmx 127.0.0.1:9010 --sync-action check",
            "  clustermd manage --jmx 127.0.0.1:9010 --sync-speed-max 50000",
            "  clustermd manage --jmx 127.0.0.1:9010 --grow --size max"
        })
final class ManageCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--jmx", required = true, paramLabel = "HOST:PORT", description = "The node's JMX port.")
    String jmx;

    @Option(
            names = "--add",
            paramLabel = "LEG",
            description = "Add a device: a spare, or the missing role's (full recovery).")
    String add;

    @Option(
            names = "--add-spare",
            paramLabel = "LEG",
            description = "Add a device as a spare (refused while degraded).")
    String addSpare;

    @Option(names = "--remove", paramLabel = "LEG", description = "Remove a faulty or spare device.")
    String remove;

    @Option(names = "--fail", paramLabel = "LEG", description = "Mark a device faulty.")
    String fail;

    @Option(
            names = "--re-add",
            paramLabel = "LEG",
            description = "Re-add a faulty or removed device (the bitmap limits the recovery).")
    String reAdd;

    @Option(
            names = "--sync-action",
            paramLabel = "ACTION",
            description = "idle, frozen, resync, recover, check or repair.")
    String syncAction;

    @Option(names = "--sync-speed-min", paramLabel = "KIB", description = "sync_speed_min, KiB/s.")
    Long syncSpeedMin;

    @Option(names = "--sync-speed-max", paramLabel = "KIB", description = "sync_speed_max, KiB/s.")
    Long syncSpeedMax;

    @Option(
            names = "--grow",
            description = "With --raid-devices N (spares take the new roles; fewer only when no leg holds the roles "
                    + "given up) or --size max|SIZE (grows only; every node follows, the new region is resynced).")
    boolean grow;

    @Option(names = "--raid-devices", paramLabel = "N", description = "With --grow: the new number of raid devices.")
    Integer raidDevices;

    @Option(
            names = "--size",
            paramLabel = "max|SIZE",
            description = "With --grow: the new component size (KiB, or with K, M, G, T), or max (the smallest leg's).")
    String size;

    @Mixin
    JmxOptions options = new JmxOptions();

    @Override
    public Integer call() throws IOException {
        List<String> chosen = new ArrayList<>();
        if (add != null && !grow) chosen.add("--add");
        if (addSpare != null) chosen.add("--add-spare");
        if (remove != null) chosen.add("--remove");
        if (fail != null) chosen.add("--fail");
        if (reAdd != null) chosen.add("--re-add");
        if (syncAction != null) chosen.add("--sync-action");
        if (syncSpeedMin != null) chosen.add("--sync-speed-min");
        if (syncSpeedMax != null) chosen.add("--sync-speed-max");
        if (grow) chosen.add("--grow");
        if (chosen.size() != 1) {
            throw new ParameterException(
                    spec.commandLine(),
                    chosen.isEmpty()
                            ? "name one change (--add, --fail, --sync-action, ...)"
                            : "one change per run, not " + String.join(" and ", chosen));
        }
        if (!grow && (raidDevices != null || size != null))
            throw new ParameterException(spec.commandLine(), "--raid-devices and --size go with --grow");
        if (grow) {
            if ((raidDevices == null) == (size == null)) {
                throw new ParameterException(
                        spec.commandLine(), "--grow needs exactly one of --raid-devices N and --size max|SIZE");
            }
            if (raidDevices != null && raidDevices < 1)
                throw new ParameterException(spec.commandLine(), "--raid-devices must be >= 1");
            if (size != null && !size.equals("max")) {
                try {
                    Sizes.parse(size);
                } catch (IllegalArgumentException e) {
                    throw new ParameterException(spec.commandLine(), "--size: " + e.getMessage());
                }
            }
        }
        if (syncAction != null) {
            try {
                SyncAction.parse(syncAction);
            } catch (IllegalArgumentException e) {
                throw new ParameterException(spec.commandLine(), "--sync-action: " + e.getMessage());
            }
        }
        List<String[]> endpoints = JmxOptions.endpoints(spec, jmx);
        if (endpoints.size() != 1)
            throw new ParameterException(spec.commandLine(), "manage changes one node: --jmx HOST:PORT");
        PrintWriter out = spec.commandLine().getOut();
        try (JmxTarget t = options.connect(spec, endpoints.get(0))) {
            String md = t.array;
            if (grow && raidDevices != null) {
                t.invoke("growRaidDevices", raidDevices.intValue());
                out.println(md + ": raid_devices " + raidDevices);
            } else if (grow) {
                // component_size in KiB, 0 for max (mdadm writes the same); every node follows
                t.setArrayAttribute("ComponentSize", size.equals("max") ? 0L : Sizes.parse(size) / 1024);
                out.println(
                        md + ": component size set to " + t.arrayAttributes().get("ComponentSize") + "K");
            } else if (add != null) {
                t.invoke("addDevice", add);
                out.println(md + ": added " + add);
            } else if (addSpare != null) {
                Object degraded = t.arrayAttributes().get("Degraded");
                if (!Integer.valueOf(0).equals(degraded)) {
                    throw new IOException(md + ": --add-spare is refused while the array is degraded (" + degraded
                            + "): the engine gives an added device the missing role; use --add");
                }
                t.invoke("addDevice", addSpare);
                out.println(md + ": added " + addSpare + " as a spare");
            } else if (remove != null) {
                t.invoke("removeDevice", remove);
                out.println(md + ": removed " + remove);
            } else if (fail != null) {
                t.invoke("failDevice", fail);
                out.println(md + ": set " + fail + " faulty");
            } else if (reAdd != null) {
                t.invoke("reAddDevice", reAdd);
                out.println(md + ": re-added " + reAdd);
            } else if (syncAction != null) {
                t.setArrayAttribute("SyncAction", syncAction.trim());
                out.println(md + ": sync_action " + syncAction.trim());
            } else if (syncSpeedMin != null) {
                t.setArrayAttribute("SyncSpeedMin", syncSpeedMin);
                out.println(md + ": sync_speed_min " + t.arrayAttributes().get("SyncSpeedMin") + " KiB/s");
            } else {
                t.setArrayAttribute("SyncSpeedMax", syncSpeedMax);
                out.println(md + ": sync_speed_max " + t.arrayAttributes().get("SyncSpeedMax") + " KiB/s");
            }
        }
        out.flush();
        return 0;
    }
}
