package org.clustermd.raid1;

import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@link ClusterOperations} for a node that is alone with its legs (md without md-cluster):
 * slot 0, no peers, nothing to wait for, no window ever suspended.
 *
 * <p>An array created clustered may be assembled with this class when no other node uses it
 * (after the whole cluster went down, say). Then every other slot is treated as a dead node's:
 * {@link #loadBitmaps} merges its dirty bits into ours and clears them, as md-cluster's recovery
 * of a failed node does, so nothing written by any node before the outage escapes the resync.
 * Running it while another node uses the array would break that node's bitmap: the operator
 * contract is "standalone means alone".
 *
 * <p>Thread-safe. Lifecycle: LATENT, then JOINED after {@link #join}, LEFT after {@link #leave};
 * calls that need membership throw {@link IllegalStateException} before join and
 * {@link Raid1Exception.Code#CLOSED} after leave.
 */
public final class StandaloneClusterOperations implements ClusterOperations {
    private static final Logger log = LoggerFactory.getLogger(StandaloneClusterOperations.class);

    private enum State {
        LATENT,
        JOINED,
        LEFT
    }

    private final AtomicReference<State> state = new AtomicReference<>(State.LATENT);
    private volatile Mddev array;
    private volatile int nodes;

    @Override
    public boolean isClustered() {
        return false;
    }

    @Override
    public void join(Mddev mddev, int slots) throws Raid1Exception {
        if (slots < 1) throw new IllegalArgumentException("nodes must be >= 1: " + slots);
        if (!state.compareAndSet(State.LATENT, State.JOINED)) {
            throw new IllegalStateException("join called twice (state " + state.get() + ")");
        }
        this.array = mddev;
        this.nodes = slots;
    }

    /** Alone with its legs, a node never needs anyone's leave to write them. */
    @Override
    public WriteLease writeLease() {
        return WriteLease.ALWAYS;
    }

    @Override
    public int slotNumber() {
        requireJoined();
        return 0;
    }

    @Override
    public void loadBitmaps(WriteIntentBitmap bitmap) throws Raid1Exception {
        checkMember();
        if (bitmap == null) return;
        for (int other = 0; other < nodes; other++) {
            if (other == bitmap.slot()) continue;
            SlotCopy copy;
            try {
                copy = bitmap.copyFromSlot(other, true);
            } catch (BitmapException e) {
                throw new Raid1Exception(
                        Raid1Exception.Code.METADATA,
                        array.name() + ": merging bitmap slot " + other + " failed: " + e.getMessage(),
                        e);
            }
            if (copy.foundDirty()) {
                log.info("{}: slot {} had {} dirty chunks; merged for resync", array.name(), other, copy.dirtyChunks());
                array.lowerRecoveryCp(copy.dirtyRange().start());
            }
        }
    }

    @Override
    public void leave(boolean arrayInSync) {
        state.set(State.LEFT);
    }

    @Override
    public void resyncStart() throws Raid1Exception, InterruptedException {
        checkMember();
        if (Thread.interrupted()) throw new InterruptedException("resync start interrupted");
    }

    @Override
    public void resyncStartNotify() throws Raid1Exception {
        checkMember();
    }

    @Override
    public void resyncInfoUpdate(long lo, long hi) throws Raid1Exception {
        checkMember();
        checkRange(lo, hi);
    }

    @Override
    public void resyncFinish(boolean closing) throws Raid1Exception {
        checkMember();
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
        checkMember();
    }

    @Override
    public void metadataUpdateFinish(int goodDevNumber) throws Raid1Exception {
        checkMember();
    }

    @Override
    public void metadataUpdateCancel() {}

    @Override
    public int addNewDisk(UUID deviceUuid, NewDiskLabel label) throws Raid1Exception {
        checkMember();
        return label.write();
    }

    @Override
    public void addNewDiskCancel() {}

    @Override
    public void removeDisk(int devNumber) throws Raid1Exception {
        checkMember();
    }

    @Override
    public void gatherBitmaps(int devNumber, ReAddCheck check, WriteIntentBitmap bitmap) throws Raid1Exception {
        checkMember();
        check.run();
        if (bitmap == null) return;
        for (int other = 0; other < nodes; other++) {
            if (other == bitmap.slot()) continue;
            try {
                SlotCopy copy = bitmap.copyFromSlot(other, false);
                if (copy.foundDirty()) array.lowerRecoveryCp(copy.dirtyRange().start());
            } catch (BitmapException e) {
                throw new Raid1Exception(
                        Raid1Exception.Code.METADATA,
                        array.name() + ": reading bitmap slot " + other + " failed: " + e.getMessage(),
                        e);
            }
        }
    }

    private void requireJoined() {
        if (state.get() == State.LATENT) throw new IllegalStateException("not joined yet");
    }

    private void checkMember() throws Raid1Exception {
        requireJoined();
        if (state.get() == State.LEFT) throw new Raid1Exception(Raid1Exception.Code.CLOSED, "the node left the array");
    }

    private static void checkRange(long lo, long hi) {
        if (lo < 0 || hi < lo) throw new IllegalArgumentException("bad resync window [" + lo + ", " + hi + ")");
    }

    @Override
    public String toString() {
        return "StandaloneClusterOperations[" + state.get() + "]";
    }
}
