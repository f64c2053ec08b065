package org.clustermd.cluster.message;

/** What a receiver did with a message: only a PROCESSED one is acknowledged. */
public enum Disposition {
    /** Processed (or processed as far as this node can, with what it could not apply logged): ack it. */
    PROCESSED,
    /** Not acted on (unknown, malformed, from our own slot, or a type this build cannot handle): no ack. */
    REFUSED
}
