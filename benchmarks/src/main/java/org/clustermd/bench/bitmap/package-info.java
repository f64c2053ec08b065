/**
 * The bitmap figures: BM1 (startWrite + endWrite on a dirty chunk, operations per second, 1
 * and 2 threads) and BM2 (bitmap flushes per 4 KiB random write inside the dirty window).
 * Neither has a peer: the goal is absolute, so {@code ratio} is {@code ours / goal} for BM1 and
 * {@code ours} itself for BM2.
 */
package org.clustermd.bench.bitmap;
