package org.clustermd.cluster;

import org.clustermd.bitmap.BitmapException;
import org.clustermd.bitmap.SlotCopy;
import org.clustermd.bitmap.WriteIntentBitmap;
import org.clustermd.dlm.DlmException;
import org.clustermd.dlm.LockMode;
import org.clustermd.dlm.LockResource;
import org.clustermd.dlm.LockSpace;
import org.clustermd.dlm.NodeSlot;
import org.clustermd.raid1.Mddev;
import org.clustermd.raid1.Raid1Exception;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * md's {@code gather_all_resync_info} at bitmap load (docs/md-cluster-protocol.md §c.4): every other
 * slot's bitmap lock is probed with PW+NOQUEUE. A live owner's slot is read in CR for its resync
 * window, in its LVB ({@link PeerResyncs#readWindow}). A free slot's bits are merged
 * into ours without clearing them, and the array's resync point is lowered to the first of them:
 * whatever a node that is gone left dirty is resynced here.
 *
 * <p>Stateless and thread-safe.
 */
final class SlotGather {
    private static final Logger log = LoggerFactory.getLogger(SlotGather.class);

    private SlotGather() {}

    static void gather(LockSpace ls, WriteIntentBitmap bitmap, Mddev array, PeerResyncs peers) throws Raid1Exception {
        for (int other = 0; other < ls.slotCount(); other++) {
            if (other == bitmap.slot()) continue;
            NodeSlot slot = new NodeSlot(other);
            try (LockResource probe = ls.resource(slot.bitmapLockName())) {
                try {
                    probe.tryConvert(LockMode.PW);
                } catch (DlmException e) {
                    if (e.code() != DlmException.Code.NOT_GRANTED) throw e;
                    peers.readWindow(probe, other); // a live node owns it: its resync window, if any
                    continue;
                }
                ResyncInfo.clearIn(probe); // a window left by a node that is gone is over
                SlotCopy copy = bitmap.copyFromSlot(other, false);
                if (copy.foundDirty()) {
                    log.info(
                            "{}: free {} has {} dirty chunks: merged for resync",
                            array.name(),
                            slot,
                            copy.dirtyChunks());
                    array.lowerRecoveryCp(copy.dirtyRange().start());
                }
            } catch (DlmException e) {
                throw new Raid1Exception(
                        Raid1Exception.Code.CLUSTER,
                        array.name() + ": probing " + slot.bitmapLockName() + " failed: " + e.getMessage(),
                        e);
            } catch (BitmapException e) {
                // md logs and skips an unreadable slot; we cannot know what it covered, so refuse
                throw new Raid1Exception(
                        Raid1Exception.Code.CLUSTER,
                        array.name() + ": reading bitmap " + slot + " failed: " + e.getMessage(),
                        e);
            }
        }
    }
}
