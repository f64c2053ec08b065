/**
 * md-cluster on the lock manager: {@link org.clustermd.cluster.ClusterCoordinator} implements
 * the raid1 engine's {@link org.clustermd.raid1.ClusterOperations} with a
 * {@link org.clustermd.dlm.LockSpace} on ZooKeeper, one per array, named by the array UUID, in
 * the cluster named by the bitmap's {@code cluster_name}, with one slot per bitmap node.
 *
 * <p>Applications use {@link org.clustermd.cluster.ClusteredArray} (docs/design.md §5's embedding
 * API): one builder for the legs, the cluster (or {@code standalone()}) and this node, one
 * {@link org.clustermd.cluster.ClusteredArrayListener} for array and cluster events; the
 * {@code node} daemon, its JMX ({@code org.clustermd.cluster.jmx}) and its NBD export are built on it.
 *
 * <h2>What this build does (docs/md-cluster-protocol.md §a, docs/md-cluster-protocol.md §c, docs/md-cluster-protocol.md §d)</h2>
 * <ul>
 *   <li><b>Join</b>: a slot from the lockspace; this slot's {@code bitmapNNNN} lock in PW for the
 *       whole membership (our bitmap is ours, and the lock says we are alive); {@code resync} at
 *       NL; at bitmap load every free slot's bits merged into ours without clearing them.</li>
 *   <li><b>Membership</b>: {@link org.clustermd.cluster.MembershipState} (JOINING, ACTIVE,
 *       RECOVERING, LEAVING, LEFT), owned by the coordinator. From recover_prep to recover_done,
 *       and until every dead slot is merged, reads go to the first in-sync leg only (docs/lessons.md §3).</li>
 *   <li><b>Node recovery</b> (docs/md-cluster-protocol.md §d.2): on recover_slot, a {@link org.clustermd.cluster.NodeRecovery}
 *       per dead slot on the {@code cluster-recover-<array>} thread takes the dead slot's bitmap
 *       lock in PW (interruptible, in bounded waits), moves its dirty bits into our bitmap and
 *       clears them there (found-dirty is an explicit flag, docs/lessons.md §17), and lowers the resync
 *       point; the sync thread takes {@code resync} in EX and resyncs exactly those chunks. A
 *       survivor that gets the lock after another one finds the slot clean and does nothing.</li>
 *   <li><b>Messages</b> ({@link org.clustermd.cluster.message}): the {@code token},
 *       {@code message}, {@code ack} and {@code no-new-dev} locks with md's modes at every step,
 *       a receive thread, one sender per node.</li>
 *   <li><b>Superblocks</b>: every superblock update holds {@code token} in EX, so two nodes never
 *       write the legs' superblocks at once, and ends with METADATA_UPDATED: every peer reloads
 *       the superblock (failed legs, activated spares, the events counter) before it
 *       acknowledges, so the array has one events counter and no node writes a peer's change
 *       backwards. A joiner re-reads the superblock once it receives messages.</li>
 *   <li><b>Session health</b>: SUSPENDED holds I/O (the session hold, counted apart from an
 *       administrator's quiesce, and kept even when the requests in flight do not drain within
 *       the I/O wait), ACTIVE again lets it flow, LOST fences the array
 *       ({@code CLUSTER_SESSION_LOST}) and leaves the membership; the {@code node} daemon then
 *       exits 1, an embedder reassembles the array with a new coordinator.</li>
 *   <li><b>The write lease</b>: the engine checks {@link org.clustermd.cluster.LockSpaceLease}
 *       (the lockspace's lease: ACTIVE and before its deadline) immediately before every leg
 *       write, this package's included ({@code NodeRecovery} and {@code SlotGather} write only
 *       through the bitmap, whose pages go to the legs through that check). A node paused past
 *       its session timeout therefore issues no leg write when it resumes: its writes are held
 *       until the session is known lost, then fail with the array fenced.</li>
 *   <li><b>Resync windows</b> (docs/md-cluster-protocol.md §e.3, docs/md-cluster-protocol.md §e.4): the
 *       resyncer publishes each window in its bitmap lock's LVB and broadcasts RESYNCING before
 *       its I/O there; receivers hold writes in the window (as long as it lasts), read it from the
 *       first in-sync leg, drain only that range before they acknowledge; (0, 0) or the
 *       sender's death clears it; a joiner reads live slots' windows from their LVBs.</li>
 *   <li><b>Leave</b> (docs/md-cluster-protocol.md §c.5): md's close order, in two engine calls:
 *       {@code handOver} stops receiving (ack to NL) and recovering, and, when the array stops
 *       with resync work left, sends BITMAP_NEEDS_SYNC; the engine closes the bitmap; then
 *       {@code leave} releases every lock with the lockspace. A receiver of BITMAP_NEEDS_SYNC
 *       recovers the sender's slot as a dead node's, for the sender's incarnation
 *       ({@code HandOver}, docs/md-cluster-protocol.md §d.3).</li>
 * </ul>
 * The data path calls only {@code areaResyncing}, one volatile read: no ZooKeeper call, no lock.
 *
 * <h2>Devices across nodes</h2>
 * NEWDISK, REMOVE and RE_ADD are sent and handled ({@code DeviceChanges}):
 * a peer finds an added device through the embedder's
 * {@link org.clustermd.cluster.DeviceLocator} and holds it as a candidate until the add commits
 * (docs/md-cluster-protocol.md §f.1, §f.3, §f.4). A node that confirmed a NEWDISK activates no
 * spare until a sync pass starts somewhere (RESYNCING_START, sent by every pass once it holds the
 * resync lock), one ends, the add is cancelled or its adder dies ({@code WaitingForSync},
 * docs/md-cluster-protocol.md §e.8): the adder's pass recovers the new leg.
 *
 * <h2>What is not done yet (the rest of md-cluster's messages)</h2>
 * No BITMAP_RESIZE handling (RAID10 only). A size grow is built: {@code CapacityChange} checks
 * every slot and sends CHANGE_CAPACITY (docs/md-cluster-protocol.md §f.7).
 */
package org.clustermd.cluster;
