/**
 * Stamped-block workloads and their verifier, for tests, the integration harness and the demo.
 *
 * <p>Every 4 KiB block a {@link org.clustermd.raid1.verify.Workload} writes carries its own
 * identity ({@link org.clustermd.raid1.verify.StampedBlock}: magic, byte offset, writer, write
 * id, a fill derived from them, CRC32C), so a reader can tell a block that holds the right write
 * from a stale, misplaced or torn one without keeping the data. The
 * {@link org.clustermd.raid1.verify.WriteLedger} records what was issued, acknowledged and made
 * durable per block; the {@link org.clustermd.raid1.verify.Verifier} proves that every
 * acknowledged write is readable (or, after a crash, that no block went back before its last
 * durable write) and that the legs are byte-identical.
 */
package org.clustermd.raid1.verify;
