package org.clustermd.cluster.nbd;

import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLAG_FUA;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_FLUSH;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_READ;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_TRIM;
import static org.clustermd.cluster.nbd.NbdProtocol.CMD_WRITE;

/**
 * One export as the protocol sees it: the target, what the server advertises for it
 * (transmission flags, NBD_INFO_BLOCK_SIZE) and the check every request passes before it may
 * touch the target.
 *
 * <p>Immutable but for the target's size, which only grows; thread-safe.
 */
final class Export {
    /** HAS_FLAGS, SEND_FLUSH, SEND_FUA, SEND_TRIM, and CAN_MULTI_CONN (see {@link NbdTarget}'s durability contract). */
    static final int TRANSMISSION_FLAGS = NbdProtocol.FLAG_HAS_FLAGS
            | NbdProtocol.FLAG_SEND_FLUSH
            | NbdProtocol.FLAG_SEND_FUA
            | NbdProtocol.FLAG_SEND_TRIM
            | NbdProtocol.FLAG_CAN_MULTI_CONN;

    private final NbdTarget target;
    private final String name;
    private final int minBlock;
    private final int maxPayload;

    /**
     * @param maxPayload the largest READ or WRITE accepted, a multiple of the block size
     * @throws IllegalArgumentException when the target's geometry cannot be advertised
     */
    Export(NbdTarget target, int maxPayload) {
        this.target = target;
        this.name = target.name();
        long size = target.size();
        this.minBlock = target.logicalBlockSize();
        if (minBlock < 512 || minBlock > 65536 || Integer.bitCount(minBlock) != 1) {
            throw new IllegalArgumentException(
                    name + ": logical block size " + minBlock + " is not a power of two from 512 to 65536");
        }
        if (size < 0 || size % minBlock != 0) {
            throw new IllegalArgumentException(
                    name + ": size " + size + " is not a multiple of the block size " + minBlock);
        }
        if (maxPayload < Math.max(minBlock, 4096) || maxPayload % minBlock != 0) {
            throw new IllegalArgumentException(name + ": maximum payload " + maxPayload
                    + " must be a multiple of the block size " + minBlock + " and at least 4096");
        }
        this.maxPayload = maxPayload;
    }

    NbdTarget target() {
        return target;
    }

    String name() {
        return name;
    }

    /**
     * The target's size now: a grown array (mdadm --grow --size) is advertised at the next
     * handshake; a client connected before keeps the size it was told, as an open block device
     * does until it is re-read (the grow only adds space, so its requests stay inside;
     * docs/md-cluster-protocol.md §f.7).
     */
    long size() {
        return target.size();
    }

    int minBlock() {
        return minBlock;
    }

    /** The spec's preferred block size: a power of two, at least the minimum and 512; 4 KiB unless the blocks are larger. */
    int preferredBlock() {
        return Math.max(minBlock, 4096);
    }

    int maxPayload() {
        return maxPayload;
    }

    /**
     * The error a request gets before it reaches the target, or null when it may go ahead:
     * unknown command or flag EINVAL; READ, WRITE and TRIM must be aligned to the minimum block
     * and non-empty (EINVAL), inside the export (EINVAL, ENOSPC for a write, as the spec asks),
     * and READ and WRITE no longer than the maximum payload (EINVAL); FLUSH has no offset or
     * length (EINVAL).
     */
    NbdError check(int type, int flags, long offset, long length) {
        if ((flags & ~CMD_FLAG_FUA) != 0) return NbdError.EINVAL;
        switch (type) {
            case CMD_READ, CMD_WRITE, CMD_TRIM -> {
                if (length == 0 || offset % minBlock != 0 || length % minBlock != 0) return NbdError.EINVAL;
                if ((type == CMD_READ || type == CMD_WRITE) && length > maxPayload) return NbdError.EINVAL;
                // offset is unsigned on the wire: a negative long is past any export
                long size = target.size();
                boolean inside = offset >= 0 && offset <= size && length <= size - offset;
                if (!inside) return type == CMD_WRITE ? NbdError.ENOSPC : NbdError.EINVAL;
                return null;
            }
            case CMD_FLUSH -> {
                return offset == 0 && length == 0 ? null : NbdError.EINVAL;
            }
            default -> {
                return NbdError.EINVAL;
            }
        }
    }
}
