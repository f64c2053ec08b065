package org.clustermd.cluster.message;

import java.time.Duration;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.raid1.Raid1Exception;

/**
 * md's {@code no-new-dev} lock (docs/md-cluster-protocol.md §f.1): every node holds it in CR
 * while it has not found a device being added; a node that found it drops to NL; the adder's
 * EX with NOQUEUE is granted only when every peer did.
 *
 * <p>Thread-safe.
 */
public final class NewDiskVote implements AutoCloseable {
    private final String arrayName;
    private final LockResource noNewDev;
    private final LockSteps steps;
    private final Duration bound;

    NewDiskVote(String arrayName, LockResource noNewDev, LockSteps steps, Duration bound) {
        this.arrayName = arrayName;
        this.noNewDev = noNewDev;
        this.steps = steps;
        this.bound = bound;
    }

    /** md's process_metadata_update retakes {@code no-new-dev} in CR, so this node can veto the next add. */
    public void rearm() throws Raid1Exception {
        try {
            convert(LockMode.CR);
        } catch (DlmException e) {
            throw cluster("re-taking no-new-dev failed: " + e.getMessage(), e);
        }
    }

    /**
     * md's add_new_disk vote, after NEWDISK was acknowledged: {@code no-new-dev} EX with NOQUEUE
     * is granted only if every peer dropped its CR (found the device); then back to CR.
     */
    public boolean everyPeerConfirmed() throws Raid1Exception {
        try {
            noNewDev.tryConvert(LockMode.EX);
        } catch (DlmException e) {
            if (e.code() == DlmException.Code.NOT_GRANTED) return false;
            throw cluster("the no-new-dev vote failed: " + e.getMessage(), e);
        }
        rearm();
        return true;
    }

    /** md's new_disk_ack: this node found the new device ({@code no-new-dev} to NL) or not (stays CR). */
    public void answer(boolean found) throws Raid1Exception {
        if (!found) return;
        try {
            convert(LockMode.NL);
        } catch (DlmException e) {
            throw cluster("confirming the new device failed: " + e.getMessage(), e);
        }
    }

    private void convert(LockMode mode) throws DlmException {
        steps.convert(noNewDev, mode, bound);
    }

    private Raid1Exception cluster(String message, Throwable cause) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, arrayName + ": " + message, cause);
    }

    @Override
    public void close() {
        noNewDev.close();
    }
}
