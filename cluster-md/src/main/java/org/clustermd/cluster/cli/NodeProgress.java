package org.clustermd.cluster.cli;

import java.io.PrintWriter;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.cluster.CandidateState;
import org.clustermd.cluster.ClusteredArrayListener;
import org.clustermd.dlm.NodeSlot;

/**
 * The {@code node} verb's progress lines on stdout, one event per line, and their parsers (the
 * demo reads them from its node processes; this class is the one place their wording lives):
 *
 * <pre>
 *   joined slot 0 of 3 as node1 (cluster demo); md0: 2 legs, 196608 KiB
 *   recover_prep
 *   recover_slot 2
 *   copied 47 dirty chunks from slot 2          (or: slot 2 was clean: nothing to copy)
 *   recover_done members [0, 1]
 *   resync started
 *   resync 45%
 *   resync done: copied 49283072 bytes in 812 ms
 *   NBD export md0 on 127.0.0.1:40213
 *   writing [100663296, 150994944) as writer 3
 *   stopping (SIGTERM): 10234 writes acknowledged
 *   left the cluster
 * </pre>
 *
 * <p>Thread-safe: lines are printed whole, one at a time.
 */
final class NodeProgress implements ClusteredArrayListener {
    static final Pattern JOINED = Pattern.compile("joined slot (\\d+) of (\\d+) as (\\S+) .*");
    static final Pattern SLOT = Pattern.compile("recover_slot (\\d+)");
    static final Pattern COPIED = Pattern.compile("copied (\\d+) dirty chunks from slot (\\d+)");
    static final Pattern CLEAN = Pattern.compile("slot (\\d+) was clean: nothing to copy");
    static final Pattern RESYNC_DONE = Pattern.compile("resync done: copied (\\d+) bytes in (\\d+) ms");
    static final Pattern NBD_EXPORT = Pattern.compile("NBD export (\\S+) on (\\S+):(\\d+)");
    static final Pattern STOPPING = Pattern.compile("stopping \\((.*)\\): (\\d+) writes acknowledged");

    private final PrintWriter out;

    NodeProgress(PrintWriter out) {
        this.out = out;
    }

    synchronized void say(String line) {
        out.println(line);
        out.flush();
    }

    /** The NBD export is up: the demo's clients connect to the port this line names. */
    void nbdExport(String export, String host, int port) {
        say("NBD export " + export + " on " + host + ":" + port);
    }

    @Override
    public void recoverPrep() {
        say("recover_prep");
    }

    @Override
    public void recoverSlot(NodeSlot dead) {
        say("recover_slot " + dead.number());
    }

    @Override
    public void slotHandedOver(NodeSlot leaving) {
        say("bitmap_needs_sync from slot " + leaving.number() + ": taking its resync over");
    }

    @Override
    public void slotRecovered(NodeSlot dead, SlotCopy copy) {
        if (copy.foundDirty()) say("copied " + copy.dirtyChunks() + " dirty chunks from slot " + dead.number());
        else say("slot " + dead.number() + " was clean: nothing to copy");
    }

    @Override
    public void slotRecoveryFailed(NodeSlot dead, String why) {
        say("recovery of slot " + dead.number() + " failed (will retry): " + why);
    }

    @Override
    public void recoverDone(Set<NodeSlot> members) {
        say("recover_done members "
                + members.stream().map(NodeSlot::number).sorted().toList());
    }

    @Override
    public void deviceCandidate(UUID deviceUuid, int devNumber, CandidateState state, String why) {
        say("new device " + deviceUuid + " dev_number " + devNumber + ": " + state + " (" + why + ")");
    }

    /** The matcher of {@code p} on {@code line}, or null. */
    static Matcher match(Pattern p, String line) {
        Matcher m = p.matcher(line);
        return m.matches() ? m : null;
    }
}
