package org.clustermd.dlm;

import java.util.Objects;

/**
 * One life of a lockspace member: its slot and its incarnation. A slot is reused (a node that
 * left or died is followed by a new one, possibly the same node restarted), an incarnation never:
 * each join has its own, so "the member that sent this is still leaving" and "a new member took
 * that slot since" are told apart by comparing incarnations, not slots
 * (docs/md-cluster-protocol.md §d.3). On ZooKeeper the incarnation is the member's session id.
 *
 * <p>Equal only when both slot and incarnation are. Immutable and thread-safe.
 *
 * @param slot the member's slot
 * @param incarnation unique among every join of the lockspace, past or present
 */
public record MemberId(NodeSlot slot, long incarnation) {
    public MemberId {
        Objects.requireNonNull(slot, "slot");
    }

    @Override
    public String toString() {
        return slot + "/" + Long.toHexString(incarnation);
    }
}
