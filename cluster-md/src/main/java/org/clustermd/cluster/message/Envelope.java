package org.clustermd.cluster.message;

import java.util.Objects;

/** A message and the 0-based slot of the node that sent it, as one {@code message} LVB carries them. */
public record Envelope(int senderSlot, ClusterMessage message) {
    public Envelope {
        if (senderSlot < 0) throw new IllegalArgumentException("negative sender slot " + senderSlot);
        Objects.requireNonNull(message, "message");
    }
}
