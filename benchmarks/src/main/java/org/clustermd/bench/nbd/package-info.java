/**
 * The NBD figures (DESIGN §7): P5, the NBD export of a 1-leg array against nbdkit's file
 * plugin on the same leg file, and P5b, a 2-leg export against fio writing both legs directly;
 * fio's nbd engine drives both exports.
 */
package org.clustermd.bench.nbd;
