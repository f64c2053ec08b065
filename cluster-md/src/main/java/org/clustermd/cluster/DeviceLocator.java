package org.clustermd.cluster;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;
import java.util.UUID;

/**
 * Finds, on this node, the device a peer's NEWDISK names by the device UUID in its md
 * superblock: what udev's {@code blkid -t UUID_SUB=...} rule does for md
 * (docs/md-cluster-protocol.md §f.1). The embedder supplies it; {@link GlobDeviceLocator}
 * scans paths given as globs ({@code node --scan}). Without one, this node answers every
 * NEWDISK "not found", so no peer can add a device while it is a member.
 *
 * <p>Called on the cluster's receive thread, bounded by the coordinator (md's 5 s): an
 * implementation must not call back into the array. Implementations must be thread-safe.
 */
@FunctionalInterface
public interface DeviceLocator {
    /** Answers "not found" for every device. */
    DeviceLocator NONE = (array, device) -> Optional.empty();

    /**
     * The path of a device whose md superblock belongs to array {@code arrayUuid} and carries
     * device UUID {@code deviceUuid}, or empty.
     *
     * @throws IOException when the search itself failed (taken as "not found")
     */
    Optional<Path> locate(UUID arrayUuid, UUID deviceUuid) throws IOException;
}
