/**
 * {@code benchmarks/run broadcast}: figure P8, one md-cluster broadcast (METADATA_UPDATED, sent
 * and acknowledged by every member) against one ZooKeeper write on the same server.
 */
package org.clustermd.bench.broadcast;
