package org.clustermd.raid1.io;

/**
 * How a {@link BlockDevice} opened by {@link BlockDevices} keeps several requests in flight.
 * The blocking forms ({@code read/write/flush}) always run on the caller's thread; the choice
 * only concerns the {@code ...Async} forms.
 *
 * <p>Immutable; thread-safe.
 */
public enum IoEngine {
    /**
     * Linux native AIO through libaio ({@code io_submit} on the caller's thread, one AIO
     * context and reaper thread running {@code io_getevents} shared by the devices of the JVM,
     * each with its own queue depth), the engine fio's libaio peer uses. The
     * default when libaio loads and the device is opened with O_DIRECT.
     */
    AIO,
    /**
     * A fixed pool of I/O threads per device, each doing blocking pread/pwrite; queue depth =
     * thread count. The fallback when libaio is missing or for buffered (non-O_DIRECT) files,
     * where native AIO would run synchronously inside io_submit.
     */
    THREADS
}
