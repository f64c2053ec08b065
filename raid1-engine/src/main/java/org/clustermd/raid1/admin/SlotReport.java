package org.clustermd.raid1.admin;

/**
 * One bitmap slot as {@code mdadm --examine-bitmap} reports it.
 *
 * <p>Immutable; thread-safe.
 *
 * @param slot the node slot
 * @param events the slot's bitmap superblock events
 * @param eventsCleared events_cleared
 * @param state bitmap_super_t.state flags
 * @param chunks bits in the slot ("N bits (chunks)")
 * @param dirty bits set ("M dirty")
 */
public record SlotReport(int slot, long events, long eventsCleared, int state, long chunks, long dirty) {}
