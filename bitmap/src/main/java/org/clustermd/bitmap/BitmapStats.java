package org.clustermd.bitmap;

/**
 * Counters of a bitmap's storage traffic since it was opened (for tests, JMX and the BM2
 * figure).
 *
 * <p>Immutable snapshot; thread-safe.
 *
 * @param rounds        group-commit rounds that wrote something (one flush each)
 * @param storageWrites {@code BitmapStorage.write} calls, including other slots' clears
 * @param storageFlushes {@code BitmapStorage.flush} calls
 * @param bytesWritten  bytes passed to {@code write}
 * @param bitsSet       chunks whose bit became durable
 * @param bitsCleared   chunks whose bit was cleared on disk by the daemon
 * @param failedRounds  rounds whose write or flush failed
 */
public record BitmapStats(
        long rounds,
        long storageWrites,
        long storageFlushes,
        long bytesWritten,
        long bitsSet,
        long bitsCleared,
        long failedRounds) {}
