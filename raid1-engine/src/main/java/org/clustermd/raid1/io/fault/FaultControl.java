package org.clustermd.raid1.io.fault;

/**
 * The run-time switches of a {@link FaultInjectingBlockDevice}, in the style of dm-flakey and
 * md's faulty personality. Deliberately small and typed with primitives and one enum, so a JMX
 * MXBean can expose it unchanged later.
 *
 * <p>Sectors are 512 bytes; a range is half-open {@code [fromSector, toSector)}; a request that
 * overlaps a failing range fails whole, as a bio does. Injected errors are
 * {@link org.clustermd.raid1.io.BlockDeviceException} with code {@code IO_ERROR} and errno 5
 * (EIO), the same as a real failing disk. Rules add up: a request fails when any rule matches.
 * Switches take effect for requests issued after the call returns.
 *
 * <p>Implementations are thread-safe.
 */
public interface FaultControl {

    /** Reads overlapping {@code [fromSector, toSector)} fail with EIO until {@link #clearFaults()}. */
    void failReads(long fromSector, long toSector);

    /** Writes overlapping {@code [fromSector, toSector)} fail with EIO until {@link #clearFaults()}. */
    void failWrites(long fromSector, long toSector);

    /** The next {@code count} reads fail with EIO (adds to any count not yet used up). */
    void failNextReads(int count);

    /** The next {@code count} writes fail with EIO (adds to any count not yet used up). */
    void failNextWrites(int count);

    /** Every read fails with EIO while on. */
    void failAllReads(boolean on);

    /** Every write fails with EIO while on. */
    void failAllWrites(boolean on);

    /** Every flush (and FUA write's implied flush) fails with EIO while on. */
    void failFlushes(boolean on);

    /** dm-flakey's drop_writes: writes report success but are silently not performed. */
    void dropWrites(boolean on);

    /** Adds this delay before every read is issued (0 = none). */
    void setReadLatencyMicros(long micros);

    /** Adds this delay before every write is issued (0 = none). */
    void setWriteLatencyMicros(long micros);

    /** Removes every EIO, drop and latency rule; the power state is untouched. */
    void clearFaults();

    /**
     * Starts remembering, for every block written from now on, its last durable contents, so a
     * later {@link #powerCut} can undo unflushed writes. Costs one extra read per write.
     */
    void armPowerCut();

    /**
     * Cuts the power: waits for writes in flight, rolls back unflushed writes as {@code mode}
     * says (the random choice is made from {@code seed}), and from then on fails every request
     * with EIO until {@link #powerOn()}.
     *
     * @throws IllegalStateException if {@link #armPowerCut()} was not called first
     * @throws java.io.UncheckedIOException if the rollback itself cannot be written
     */
    void powerCut(PowerCutMode mode, long seed);

    /** Restores power: requests work again and see the state the cut left. Stays armed. */
    void powerOn();

    /** True between {@link #powerCut} and {@link #powerOn()}. */
    boolean isPowerCut();

    /** Blocks written since the last flush that a power cut would roll back (armed only). */
    int unflushedBlocks();

    /** Requests failed or dropped by injection since the device was opened. */
    long injectedFaults();
}
