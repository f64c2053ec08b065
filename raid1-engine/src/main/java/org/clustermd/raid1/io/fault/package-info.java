/**
 * Fault injection for block devices, after dm-flakey and md's faulty personality:
 * {@link org.clustermd.raid1.io.fault.FaultInjectingBlockDevice} wraps any
 * {@link org.clustermd.raid1.io.BlockDevice} and is switched at run time through the small
 * {@link org.clustermd.raid1.io.fault.FaultControl} interface (EIO by range, count or always,
 * dropped writes, latency, and a power cut that loses unflushed writes, see
 * {@link org.clustermd.raid1.io.fault.PowerCutMode}). Tests, the integration harness and JMX use
 * the same surface.
 */
package org.clustermd.raid1.io.fault;
