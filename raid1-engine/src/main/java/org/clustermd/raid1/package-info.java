/**
 * md's raid1 personality and md core for one node: {@link org.clustermd.raid1.Raid1Array}.
 *
 * <h2>Map (kernel name: ours)</h2>
 * <table>
 *   <caption>Kernel counterparts</caption>
 *   <tr><td>mddev + r1conf</td><td>{@link org.clustermd.raid1.Raid1Array} (the facade) over
 *       {@code MddevCore} (the parts, wired in md_run order)</td></tr>
 *   <tr><td>do_md_stop</td><td>{@code MdStop}</td></tr>
 *   <tr><td>md_bitmap_create / md_bitmap_load at assembly</td><td>{@code BitmapLoad}</td></tr>
 *   <tr><td>md_cluster_operations</td><td>{@link org.clustermd.raid1.ClusterOperations} (SPI; single node:
 *       {@link org.clustermd.raid1.StandaloneClusterOperations}); the array's side for it:
 *       {@link org.clustermd.raid1.Mddev}</td></tr>
 *   <tr><td>conf->mirrors, raid1_info + rdev flags</td><td>{@link org.clustermd.raid1.MirrorSet}
 *       (immutable, versioned, one volatile reference, published by {@code Mirrors}, which also
 *       runs md_error), {@link org.clustermd.raid1.Mirror},
 *       {@link org.clustermd.raid1.MirrorState}</td></tr>
 *   <tr><td>the checks at the top of md_make_request and raid1_make_request, the wait on
 *       area_resyncing</td><td>{@code RequestGate}</td></tr>
 *   <tr><td>mddev->recovery_cp (MaxSector when clean)</td><td>{@code recoveryCp}
 *       ({@link org.clustermd.raid1.Mddev#MAX_SECTOR}); the superblock's resync_offset is its
 *       on-disk form, named so only in {@code sb}</td></tr>
 *   <tr><td>rdev->recovery_offset (one device's rebuild point)</td><td>
 *       {@link org.clustermd.raid1.Mirror#recoveryOffset()}</td></tr>
 *   <tr><td>mddev->ro (0, 1, 2)</td><td>{@code ArrayStateMachine.ReadOnlyMode}</td></tr>
 *   <tr><td>r1bio</td><td>{@code MirroredWrite}</td></tr>
 *   <tr><td>read_balance</td><td>{@code ReadBalancer}</td></tr>
 *   <tr><td>raise/lower/wait/allow_barrier, freeze_array</td><td>{@link org.clustermd.raid1.resync.ResyncBarrier}</td></tr>
 *   <tr><td>md_do_sync + raid1_sync_request</td><td>{@code SyncPass} on {@code resync-<array>}; one sync r1bio:
 *       {@code SyncRequest}</td></tr>
 *   <tr><td>MD_RECOVERY_* flags, action_store, md_reap_sync_thread</td><td>{@code SyncControl}</td></tr>
 *   <tr><td>md_check_recovery (md thread)</td><td>{@code MdThread} ({@code md-<array>})</td></tr>
 *   <tr><td>md_update_sb / super_1_sync</td><td>{@code MetadataUpdater} / {@code ArrayMetadata}</td></tr>
 *   <tr><td>md_write_start/end, safemode, array_state</td><td>{@code ArrayStateMachine},
 *       {@link org.clustermd.raid1.ArrayState}</td></tr>
 *   <tr><td>analyze_sbs, super_1_validate</td><td>{@code Assembler}</td></tr>
 *   <tr><td>hot_add/remove_disk, md_error, re-add, remove_and_add_spares, check_sb_changes</td>
 *       <td>{@code Legs}</td></tr>
 *   <tr><td>write_sb_page / read_sb_page</td><td>{@code LegBitmapStorage} (the bitmap module's
 *       BitmapStorage over the legs)</td></tr>
 *   <tr><td>fix_read_error (raid1d)</td><td>{@code ReadPath} on {@code raid1d-<array>}</td></tr>
 * </table>
 *
 * <h2>A write</h2>
 * md_write_start (a clean array first records "active" in its superblocks), wait while a peer
 * resyncs the range (bounded), wait_barrier, bitmap startWrite (the bit is durable first), the
 * same buffer to every IN_SYNC and REBUILDING leg of one MirrorSet snapshot, then: a failed leg is
 * failed and the write is acknowledged only once the remaining legs' superblocks record it (md
 * holds such writes until the update); no write is acknowledged while any failure is unrecorded;
 * bitmap endWrite says "all legs" only when no leg failed and every role got the write, so the
 * bits of failed and degraded writes stay (docs/lessons.md §28, docs/lessons.md §30).
 *
 * <h2>The write lease: no leg write without it (docs/lessons.md §31, docs/design.md)</h2>
 * <b>Invariant</b>: a leg write is handed to a device only after the cluster's
 * {@link org.clustermd.raid1.WriteLease} was found valid, by the thread that hands it over,
 * immediately before. Every leg of an array is wrapped by its {@code LeaseHold} at assembly and
 * at add and re-add, so the data path, bitmap pages (including a dead node's slot that
 * cluster-md clears through the bitmap), superblocks and resync and recovery writes all pass the
 * same check; nothing in the engine holds an unwrapped leg. The check is a volatile read and a
 * clock compare: no allocation, no ZooKeeper call (figure P4 stays at zero ZooKeeper writes per
 * data write).
 * <p>A write found without a lease is held (queued, not issued, not failed) and issued by the
 * {@code lease-hold-<array>} thread once the lease is valid again, checked again just before.
 * It fails only after the array fenced itself: the lease revoked (session LOST), or invalid for
 * the array's I/O bound ({@link org.clustermd.raid1.FenceReason#LEASE_EXPIRED}). The fence comes
 * first, so a write that was never issued is never taken for a leg failure. No engine thread
 * waits for a held write inside the check (it returns a future); a thread that waits for one
 * afterwards (a bitmap page flush before a data write, a superblock update on {@code md-}) is
 * released by the hold thread, which depends only on the lock manager's own threads.
 * <p><b>The window that remains</b>: between the check and the moment the kernel takes the write
 * (io_submit or pwrite) the thread may be descheduled or the process stopped; a write checked
 * just before the deadline can therefore reach the leg after it. The lease's margin below the
 * server's session expiry (dlm-adapter's lease rule: a fraction of the session timeout after
 * the last answered request was sent) is what covers that window; a process stopped exactly
 * there for longer than the margin is the one case the check cannot exclude. Writes already in
 * the kernel when the lease runs out complete; they were issued under a valid lease.
 *
 * <h2>Locks, and why no cluster wait can deadlock the node</h2>
 * <ul>
 *   <li>the reconfig lock (md's mddev_lock): administrative operations and the sync
 *       lifecycle; the md thread only ever try-locks it (md_check_recovery does), so an
 *       administrator holding it while waiting for the md thread's superblock update never
 *       blocks that thread (docs/lessons.md §25);</li>
 *   <li>the MirrorSet lock: held only to compute and publish a new snapshot, never across I/O or
 *       a cluster call;</li>
 *   <li>{@link org.clustermd.raid1.Mddev} callbacks (cluster-md's receive thread) take only the
 *       MirrorSet lock and atomics, never the reconfig lock, so a local thread that holds the
 *       reconfig lock while it waits for a cluster lock cannot form a cycle with the receiver
 *       (docs/lessons.md §9).</li>
 * </ul>
 *
 * <h2>The sync lifecycle (docs/lessons.md §21, docs/lessons.md §22)</h2>
 * IDLE to RUNNING to DONE to reaped, every step under the reconfig lock; the reap writes the final
 * superblock, then calls {@code resyncFinish}. Writing an action sets it before clearing FROZEN.
 * A pass that fails for want of a readable source is not restarted by itself (md's
 * recovery_disabled) until an action is written or a leg is added. Progress is checkpointed into
 * resync_offset (written while the array is clean; 0 while it is active, as md does) and each
 * recovering leg's recovery_offset.
 *
 * <p>Types here are thread-safe unless their documentation says otherwise.
 */
package org.clustermd.raid1;
