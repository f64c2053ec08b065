/**
 * The NBD export: each node serves its array over the Network Block Device protocol, so any
 * NBD client (qemu, libnbd's nbdcopy and nbdfuse, fio's nbd engine, the kernel's nbd-client)
 * can use it as a disk.
 *
 * <p>{@link org.clustermd.cluster.nbd.NbdServer} speaks the fixed newstyle handshake
 * (NBD_OPT_GO, NBD_OPT_INFO, NBD_OPT_EXPORT_NAME, NBD_OPT_LIST, NBD_OPT_ABORT; every other
 * option gets NBD_REP_ERR_UNSUP) and the transmission phase with simple replies (READ, WRITE
 * with FUA, FLUSH, TRIM, DISC), serving {@link org.clustermd.cluster.nbd.NbdTarget}s; the
 * export name is the array name. NBD_INFO_BLOCK_SIZE advertises the array's logical block size
 * as the minimum, and requests that are misaligned, out of range, oversized, or unknown get the
 * spec's error without touching data. See {@code docs/design.md} (the NBD export) for the
 * operator's view.
 */
package org.clustermd.cluster.nbd;
