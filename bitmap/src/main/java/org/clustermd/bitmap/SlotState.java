package org.clustermd.bitmap;

import java.nio.ByteBuffer;
import org.clustermd.bitmap.storage.BitmapStorage;

/**
 * Everything that changes together on a resize: the geometry, the counters, the image of the
 * slot, where the slot sits and the buffer rounds write from. Swapped as one reference.
 *
 * <p>The references are final; the objects they point to follow their own rules.
 */
final class SlotState {
    final BitmapGeometry geometry;
    final ChunkCounters counters;
    final SlotImage image;
    final long slotOffset;
    /** The only buffer storage writes of this slot come from; owned by the running round. */
    final ByteBuffer writeBuffer;

    SlotState(BitmapGeometry geometry, ChunkCounters counters, SlotImage image, long slotOffset) {
        this.geometry = geometry;
        this.counters = counters;
        this.image = image;
        this.slotOffset = slotOffset;
        this.writeBuffer = BitmapStorage.allocate((int) geometry.stride());
    }
}
