package org.clustermd.raid1.io.fault;

/**
 * What a power cut does to writes that completed but were not yet made durable by a flush (or
 * written with FUA) when the cut happened. Either way, writes that were durable survive.
 *
 * <p>Immutable; thread-safe.
 */
public enum PowerCutMode {
    /** Every unflushed write is lost: each block it touched returns to its last durable state. */
    DROP_UNFLUSHED,
    /**
     * A random subset (chosen by the fault injector's random seed, block by block) of the unflushed blocks keeps its new
     * contents and the rest returns to the last durable state: a volatile write cache that had
     * destaged some of its blocks when power went.
     */
    KEEP_RANDOM_SUBSET
}
