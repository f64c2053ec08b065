/**
 * The resync figures (docs/design.md §7): P9 full resync rate against a fio copy of one leg onto the
 * other, P10 bytes resynced after a crash (and after a re-add) against the dirty chunks, P12
 * foreground write latency during a resync against idle; P13 ({@link org.clustermd.bench.resync.PeerResyncSuite})
 * a peer's write latency outside the resync window while another node resyncs, against the resync paused.
 */
package org.clustermd.bench.resync;
