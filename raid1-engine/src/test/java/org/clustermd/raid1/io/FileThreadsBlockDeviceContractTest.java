package org.clustermd.raid1.io;

/** The contract on a plain file with the thread-pool engine. */
class FileThreadsBlockDeviceContractTest extends FileBlockDeviceContractTest {
    @Override
    protected BlockDeviceOptions options() {
        return BlockDeviceOptions.defaults().withEngine(IoEngine.THREADS).withQueueDepth(8);
    }
}
