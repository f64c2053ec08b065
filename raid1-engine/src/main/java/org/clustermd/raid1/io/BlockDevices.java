package org.clustermd.raid1.io;

import java.nio.file.Path;

/**
 * Opens {@link BlockDevice}s on files and block devices (the only entry point to the jnr-posix
 * implementation).
 *
 * <p>Stateless and thread-safe.
 */
public final class BlockDevices {
    private BlockDevices() {}

    /** Opens {@code path} read-write with {@link BlockDeviceOptions#defaults()} (O_DIRECT). */
    public static BlockDevice open(Path path) throws BlockDeviceException {
        return open(path, BlockDeviceOptions.defaults());
    }

    /**
     * Opens {@code path}, a regular file or a block device, which must exist.
     *
     * @throws BlockDeviceException {@code OPEN_FAILED} (missing, not permitted, O_DIRECT refused,
     *     neither file nor block device, requested engine unavailable) or {@code DEVICE_TOO_SMALL}
     */
    public static BlockDevice open(Path path, BlockDeviceOptions options) throws BlockDeviceException {
        return PosixBlockDevice.open(path, options);
    }

    /** True when libaio can be loaded, i.e. {@link IoEngine#AIO} can be used. */
    public static boolean aioAvailable() {
        return AioSubmitter.available();
    }
}
