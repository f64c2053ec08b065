package org.clustermd.raid1.io.fault;

import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.FileBlockDeviceContractTest;

/** With no rule set, the fault device is a transparent BlockDevice. */
class FaultInjectingBlockDeviceContractTest extends FileBlockDeviceContractTest {
    @Override
    protected BlockDevice openDevice(long size) throws Exception {
        return new FaultInjectingBlockDevice(super.openDevice(size));
    }
}
