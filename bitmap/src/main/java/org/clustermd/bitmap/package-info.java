/**
 * Per-node write-intent bitmaps in md's clustered on-disk format: what makes a node crash cost
 * seconds of resync instead of hours.
 *
 * <h2>The invariant</h2>
 * A bit covers one chunk of the array. md has lost data each time it broke one half of this
 * (docs/lessons.md §27, docs/lessons.md §28, docs/lessons.md §29, docs/lessons.md §30), so every change here is checked against it:
 * <ol>
 *   <li><b>A bit is durable before any leg write it covers.</b>
 *       {@link org.clustermd.bitmap.WriteIntentBitmap#startWrite} returns only after the
 *       storage write and flush carrying the bit completed; if they fail it throws and counts
 *       nothing, and the caller must not write any leg.</li>
 *   <li><b>A bit is cleared only after every write it covers succeeded on all legs.</b> A chunk
 *       leaves "dirty" only with no write pending, not NEEDED (no failed or degraded write, no
 *       merged bit from another node, no unfinished resync) and not resyncing, at the third
 *       daemon pass after its last write ended (2 to 3 {@code daemon_sleep} periods later), and
 *       never while the array is degraded. {@code endWrite(..., false)} sets NEEDED in the same atomic step as the
 *       decrement, so no daemon pass can see the chunk idle in between.</li>
 *   <li><b>A page being written is never modified.</b> Pages go out from a snapshot copy taken
 *       under the lock; the in-memory image may change while the snapshot is in flight.</li>
 * </ol>
 * Consequences: any mix of lost, kept and torn (per 512-byte sector) unflushed writes leaves
 * every pending and every unsynced chunk set on disk; when another node's slot is taken over
 * ({@code copyFromSlot}), our copy is durable before the source is cleared, so every dirty
 * chunk is in at least one slot at every moment (md clears the source first).
 * {@code CrashPointEnumerationTest} checks this at every write and flush of a mixed workload.
 *
 * <h2>On disk (md-bitmap.h, md-bitmap.c, mdadm bitmap.c and super1.c)</h2>
 * <pre>
 * bitmap area (offsets relative to its start; md v1.2 puts it at superblock + bitmap_offset,
 * mdadm at byte 8192 of each leg; this module is only given the area)
 *
 *   slot 0 at 0, slot i at i * stride, i in [0, nodes)        (1 slot when unclustered)
 *   stride = roundup(256 + ceil(chunks / 8), 4096)              chunks = ceil(sync_size / chunk sectors)
 *
 * one slot
 *   0      256   bitmap_super_t (SuperblockCodec has the byte table)
 *                magic "bitm" 0x6d746962, version 4 (5 when clustered), uuid, events,
 *                events_cleared, sync_size (sectors), state, chunksize (bytes),
 *                daemon_sleep (seconds), write_behind, sectors_reserved, nodes, cluster_name[64]
 *   256    ...   the bits: chunk c is bit (c % 8) of byte 256 + c / 8, least significant bit
 *                first (md's set_bit_le); bits past the last chunk are padding (0 when we write)
 *   ...  stride  zero padding to the 4 KiB boundary
 * </pre>
 * All I/O is in whole, 4 KiB-aligned pages of a slot. A fresh area (mdadm
 * {@code --create --bitmap=clustered}) has slot 0 all ones and the other slots clear; with
 * {@code assume-clean} we write slot 0 clear too. mdadm counts a slot's dirty bits over its
 * own {@code sync_size / chunksize} bits, which is what
 * {@link org.clustermd.bitmap.BitmapArea#examine} reports.
 *
 * <h2>In memory (md's bitmap_counts)</h2>
 * One 32-bit word per chunk: pending-write count, NEEDED, RESYNC, an idle age and the state of
 * the on-disk bit (clean, being set, durable, being cleared); see {@code ChunkCounters}. Units
 * are md's: sectors of 512 bytes for every range, chunks as the bitmap's granularity,
 * {@code events}/{@code events_cleared} as the array counts them, {@code daemon_sleep} in
 * seconds.
 *
 * <h2>Threads and locking</h2>
 * <ul>
 *   <li>The hot path ({@code startWrite} on a chunk whose bit is durable, and every
 *       {@code endWrite}) is one compare-and-set per chunk: no lock, no I/O, no allocation.</li>
 *   <li>Every change of an on-disk bit (set, clear), the in-memory page image and the
 *       group-commit queues are guarded by one lock per bitmap; it is released during storage
 *       I/O.</li>
 *   <li>Group commit has no thread of its own: a writer that needs a new bit registers it and
 *       either joins the round that will carry it or, if none runs, runs it (one storage write
 *       per run of dirty pages, one flush, for everyone registered).</li>
 *   <li>Lazy clearing runs in the daemon thread {@code bitmap-flush-<name>}, which the bitmap
 *       starts on open and stops on close; time comes from a {@link
 *       org.clustermd.bitmap.BitmapClock}, so tests drive {@code daemonWork()} by hand.</li>
 *   <li>{@code resize} needs the caller to quiesce the array (as md does). Another slot may be
 *       read or cleared concurrently with our writes; the storage must accept concurrent
 *       calls.</li>
 * </ul>
 *
 * <h2>Buffers: why not chronicle-bytes</h2>
 * chronicle-bytes was tried for the off-heap aligned buffers and the little-endian codec, on
 * Java 17 and 25, and does not work cleanly here (chronicle-bytes 2026.4): on
 * 25 loading it prints the JDK's "terminally deprecated method in sun.misc.Unsafe" warnings
 * (through jffi, which chronicle's posix layer loads); its API has no 4 KiB-aligned
 * allocation, and wrapping a JDK-aligned slice makes its background releaser fail at release
 * ({@code IllegalArgumentException: duplicate or slice} from {@code invokeCleaner}); and its
 * reference-counted buffers bring a releaser thread and shutdown hooks into a module that needs
 * neither. The JDK does all of it: {@code ByteBuffer.allocateDirect(n + 4096).alignedSlice(4096)}
 * for O_DIRECT-ready buffers ({@link org.clustermd.bitmap.storage.BitmapStorage#allocate}) and
 * little-endian {@code ByteBuffer} accessors for the codec. No module depends on it.
 */
package org.clustermd.bitmap;
