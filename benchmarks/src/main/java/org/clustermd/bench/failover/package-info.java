/**
 * {@code benchmarks/run failover}: figure P11, SIGKILL of a node to the survivor's recovery being
 * over with its writes flowing, minus the session timeout.
 */
package org.clustermd.bench.failover;
