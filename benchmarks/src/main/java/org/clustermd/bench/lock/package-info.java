/**
 * The lock manager's figures (docs/design.md §7): P6, uncontended EX lock+unlock latency against raw
 * ZooKeeper create+delete, and P7, lock+unlock throughput against Curator's InterProcessMutex.
 */
package org.clustermd.bench.lock;
