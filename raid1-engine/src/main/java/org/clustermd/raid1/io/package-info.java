/**
 * The storage layer under the mirror: one {@link org.clustermd.raid1.io.BlockDevice} per leg.
 *
 * <h2>What is here</h2>
 * <ul>
 *   <li>{@link org.clustermd.raid1.io.BlockDevice}: the SPI (contract on the interface):
 *       positional, block-aligned reads and writes from aligned direct buffers, flush
 *       (fdatasync) and FUA, async forms returning {@code CompletableFuture} with blocking
 *       default wrappers, and {@code /proc/diskstats}-style counters
 *       ({@link org.clustermd.raid1.io.DiskStats}, kept by {@link org.clustermd.raid1.io.IoAccounting},
 *       which the array reuses to count its own requests once, docs/lessons.md §26b).</li>
 *   <li>{@link org.clustermd.raid1.io.BlockDevices#open}: files and block devices through
 *       jnr-posix, O_DIRECT by default (040000 on x86_64, 0200000 on arm64: jnr-constants lacks
 *       it). Size discovery: {@code st_size} for a file, {@code BLKGETSIZE64} (else seeking to
 *       the end) for a block device; logical block size: {@code BLKSSZGET} for a block device,
 *       4096 for a file (the strictest O_DIRECT alignment any file system here asks, and md's
 *       layout is 4 KiB-aligned anyway). Errors are
 *       {@link org.clustermd.raid1.io.BlockDeviceException} with a code, naming the device.</li>
 *   <li>{@link org.clustermd.raid1.io.AlignedBuffers}: 4 KiB-aligned direct buffers;
 *       {@link org.clustermd.raid1.io.HugePageBuffers}: a set of them on transparent huge pages,
 *       for large requests (a 1 MiB write from one is one segment for the device, docs/lessons.md
 *       §70).</li>
 *   <li>{@code fault}: a fault-injecting wrapper for tests and the integration harness.</li>
 * </ul>
 *
 * <h2>Why JDK direct buffers, not chronicle-bytes</h2>
 * {@code ByteBuffer.allocateDirect(n + slack).alignedSlice(4096)} gives aligned off-heap memory
 * with no dependency, no {@code --add-opens}, and a type every layer above already speaks
 * ({@code ByteBuffer} is what NBD, the bitmap and the caller of the embedding API hold);
 * {@code ByteBuffer.alignmentOffset} checks the address at any position without reflection,
 * and jnr-ffi passes a direct buffer to pread/pwrite/libaio without a copy. chronicle-bytes'
 * {@code BytesStore} would add explicit reference counting (release on every path, or leak) and
 * its 700-1,900-line interfaces to the I/O path for one thing we need (alignment), and its
 * address would still have to be wrapped as a ByteBuffer for the SPI. The cost of the JDK way,
 * GC-driven freeing, is avoided by allocating I/O buffers once and reusing them.
 *
 * <h2>How queue depth 32 reaches the device: libaio, with threads as the fallback</h2>
 * Figure P1 compares a mirrored 4 KiB random write at queue depth 32 with fio's libaio engine
 * writing both legs. The default engine ({@link org.clustermd.raid1.io.IoEngine#AIO}) does what
 * fio does: libaio bound with jnr-ffi (jnr-posix's own FFI layer, so no new dependency; libaio
 * is installed wherever fio is), {@code io_submit} from the submitting thread (no hand-off; a
 * mirrored write plugs ({@link org.clustermd.raid1.io.IoPlug}) and submits both legs' iocbs in
 * one call) and one AIO context with one reaper thread shared by the legs of the JVM, which
 * takes completions in batches from {@code io_getevents} (the caller never blocks; each device
 * keeps its own queue depth, so a slow leg holds up only itself; docs/datapath-cost.md has
 * what each of these saves); FUA is {@code RWF_DSYNC} in the iocb, flush is
 * {@code IOCB_CMD_FDSYNC}. The {@link org.clustermd.raid1.io.IoEngine#THREADS} engine keeps
 * the same contract with one blocked pread/pwrite per pool thread: it needs a thread and two
 * context switches per request in flight, and it is the fallback for buffered files (where
 * io_submit would run synchronously) and machines without libaio. io_uring was not chosen:
 * liburing's submission helpers are static inline functions that cannot be bound through an
 * FFI, and no maintained Java io_uring binding for files resolves here (Netty's io_uring
 * transport is for sockets).
 * Measured on this 2-core VM (DeviceProbe, noisy, same files, fio alternating): mirrored 4 KiB
 * randwrite qd32 AIO 21-37 k IOPS, THREADS 18-27 k, fio libaio 2 legs 31-45 k; the AIO engine
 * led the thread engine in every round. 4 KiB O_DIRECT pwrite + fdatasync: p50 114-132 us.
 *
 * <p>The blocking forms run pread/pwrite/fdatasync directly on the caller's thread with either
 * engine, so a synchronous caller pays one system call and no hand-off.
 */
package org.clustermd.raid1.io;
