package org.clustermd.raid1;

import java.util.UUID;

/** {@link StandaloneClusterOperations} keeps the SPI contract. */
class StandaloneClusterOperationsTest extends ClusterOperationsContractTest {
    @Override
    protected ClusterOperations createOperations(UUID arrayUuid, String clusterName) {
        return new StandaloneClusterOperations();
    }
}
