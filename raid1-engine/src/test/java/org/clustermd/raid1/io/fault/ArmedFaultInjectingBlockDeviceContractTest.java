package org.clustermd.raid1.io.fault;

import org.clustermd.raid1.io.BlockDevice;
import org.clustermd.raid1.io.FileBlockDeviceContractTest;

/** Armed for a power cut (undo log and barrier flushes active), the contract still holds. */
class ArmedFaultInjectingBlockDeviceContractTest extends FileBlockDeviceContractTest {
    @Override
    protected BlockDevice openDevice(long size) throws Exception {
        FaultInjectingBlockDevice d = new FaultInjectingBlockDevice(super.openDevice(size));
        d.armPowerCut();
        return d;
    }
}
