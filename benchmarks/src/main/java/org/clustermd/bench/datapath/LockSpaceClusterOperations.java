package org.clustermd.bench.datapath;

import java.util.UUID;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.cluster.LockSpaceLease;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.raid1.ClusterOperations;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.clustermd.raid1.StandaloneClusterOperations;
import org.clustermd.raid1.WriteLease;

/**
 * The measuring stand-in for cluster-md's coordinator in figure P4: a {@link ClusterOperations}
 * that is a real member of a real lockspace on ZooKeeper and takes md-cluster's locks where
 * md-cluster takes them (its own {@code bitmapNNNN} lock EX and {@code ack} CR at join,
 * {@code token} EX around every superblock update, {@code resync} EX around a sync pass), so
 * each ZooKeeper write the cluster layer makes in those places is made here too. The data path
 * reaches the cluster only through {@link #areaResyncing}, which is a lookup in local state (no
 * peer ever suspends a window here).
 *
 * <p>It sends no messages and handles no peers: bitmap gathering is the standalone node's
 * (every other slot merged). Only for a lone node in a benchmark; cluster-md owns the real one.
 *
 * <p>Thread-safe: lock handles are used by one engine thread each (join/leave by the assembling
 * and closing thread, token by {@code md-<array>}, resync by {@code resync-<array>}).
 */
final class LockSpaceClusterOperations implements ClusterOperations {
    private final LockSpace lockSpace;
    private final WriteLease lease;
    private final StandaloneClusterOperations local = new StandaloneClusterOperations();
    private volatile LockResource bitmapLock;
    private volatile LockResource ack;
    private volatile LockResource token;
    private volatile LockResource resync;

    LockSpaceClusterOperations(LockSpace lockSpace) {
        this.lockSpace = lockSpace;
        this.lease = new LockSpaceLease(() -> lockSpace);
    }

    @Override
    public boolean isClustered() {
        return true;
    }

    @Override
    public void join(Mddev array, int nodes) throws Raid1Exception {
        local.join(array, nodes);
        try {
            bitmapLock = lockSpace.resource(lockSpace.slot().bitmapLockName());
            bitmapLock.convert(LockMode.EX);
            ack = lockSpace.resource("ack");
            ack.convert(LockMode.CR);
            token = lockSpace.resource("token");
            resync = lockSpace.resource("resync");
        } catch (DlmException e) {
            throw cluster("join", e);
        }
    }

    /** The same lease check cluster-md's coordinator makes before every leg write (it costs P4 nothing on ZooKeeper). */
    @Override
    public WriteLease writeLease() {
        return lease;
    }

    @Override
    public int slotNumber() {
        return lockSpace.slot().number();
    }

    @Override
    public void loadBitmaps(WriteIntentBitmap bitmap) throws Raid1Exception {
        local.loadBitmaps(bitmap);
    }

    @Override
    public void leave(boolean arrayInSync) {
        for (LockResource r : new LockResource[] {resync, token, ack, bitmapLock}) {
            if (r != null) r.close();
        }
        local.leave(arrayInSync);
    }

    @Override
    public void resyncStart() throws Raid1Exception, InterruptedException {
        try {
            resync.convert(LockMode.EX);
        } catch (DlmException e) {
            throw cluster("resync lock", e);
        }
    }

    @Override
    public void resyncStartNotify() {}

    @Override
    public void resyncInfoUpdate(long lo, long hi) {}

    @Override
    public void resyncFinish(boolean closing) throws Raid1Exception {
        try {
            resync.unlock();
        } catch (DlmException e) {
            throw cluster("resync unlock", e);
        }
    }

    @Override
    public boolean resyncingRemote() {
        return false;
    }

    @Override
    public boolean areaResyncing(Direction direction, long lo, long hi) {
        return false;
    }

    @Override
    public void metadataUpdateStart() throws Raid1Exception {
        try {
            token.convert(LockMode.EX);
        } catch (DlmException e) {
            throw cluster("token lock", e);
        }
    }

    @Override
    public void metadataUpdateFinish(int goodDevNumber) throws Raid1Exception {
        try {
            token.unlock();
        } catch (DlmException e) {
            throw cluster("token unlock", e);
        }
    }

    @Override
    public void metadataUpdateCancel() {
        try {
            token.unlock();
        } catch (DlmException ignored) {
            // never throws by contract; the lockspace releases it at leave anyway
        }
    }

    @Override
    public void addNewDisk(UUID deviceUuid, int devNumber) throws Raid1Exception {
        metadataUpdateStart();
    }

    @Override
    public void addNewDiskCancel() {
        metadataUpdateCancel();
    }

    @Override
    public void newDiskAck(boolean ack) {}

    @Override
    public void removeDisk(int devNumber) {}

    @Override
    public void gatherBitmaps(int devNumber, WriteIntentBitmap bitmap) throws Raid1Exception {
        local.gatherBitmaps(devNumber, bitmap);
    }

    private Raid1Exception cluster(String what, DlmException e) {
        return new Raid1Exception(Raid1Exception.Code.CLUSTER, "lockspace " + lockSpace.name() + ": " + what + ": "
                + e.getMessage(), e);
    }
}
