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

    /**
     * Refuses a block device something else holds exclusively: a mounted file system, a kernel md
     * array, device-mapper, or a program that opened it O_EXCL (mdadm --create opens its devices
     * O_EXCL for the same reason). A regular file, or a path that cannot be opened, passes: opening
     * it for real says why it fails.
     *
     * @throws BlockDeviceException {@code OPEN_FAILED} naming the device as in use
     */
    public static void requireNotInUse(Path path) throws BlockDeviceException {
        PosixBlockDevice.requireNotInUse(path);
    }

    /** True when libaio can be loaded, i.e. {@link IoEngine#AIO} can be used. */
    public static boolean aioAvailable() {
        return AioSubmitter.available();
    }
}
