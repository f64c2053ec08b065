package org.clustermd.cluster.jmx;

import org.clustermd.raid1.Raid1Exception;

/**
 * Maps the engine's refusals to the exceptions a JMX client can read without clustermd's
 * classes: bad arguments (md's EINVAL, an unknown leg) to IllegalArgumentException, everything
 * else md would refuse (EBUSY, the cluster, a stopped array) to IllegalStateException. The
 * message names the engine's code, so {@code manage} can print why.
 */
final class Refusal {
    private Refusal() {}

    static RuntimeException of(Raid1Exception e) {
        String message = e.getMessage() + " (" + e.code() + ")";
        return switch (e.code()) {
            case INVALID, NO_SUCH_DEVICE, UNALIGNED, OUT_OF_RANGE, BAD_BUFFER -> new IllegalArgumentException(message);
            default -> new IllegalStateException(message);
        };
    }
}
