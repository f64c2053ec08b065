/**
 * The data-path figures (docs/design.md §7): P1 and P2 against fio on the same legs, P3 bitmap on
 * against off, P4 ZooKeeper writes per data write with the array in a real lockspace.
 */
package org.clustermd.bench.datapath;
