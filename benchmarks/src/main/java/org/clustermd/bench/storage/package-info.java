/**
 * What the storage suites share: the leg files ours and fio use ({@link
 * org.clustermd.bench.storage.LegFiles}), fio as a child process and its JSON report ({@link
 * org.clustermd.bench.storage.Fio}, {@link org.clustermd.bench.storage.FioReport}, read with
 * Jackson), our workloads through the array's public data path
 * ({@link org.clustermd.bench.storage.WriteLoad}) and the percentile arithmetic.
 */
package org.clustermd.bench.storage;
