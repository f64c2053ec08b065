/**
 * Test utilities shipped in dlm-adapter's test-jar for every module that tests against
 * ZooKeeper: {@link org.clustermd.dlm.testing.TcpProxy} (a link the test can cut, drop and
 * restore, to make a client see a partition) and {@link org.clustermd.dlm.testing.Timing}
 * (waits scaled by the {@code clustermd.timing.scale} system property).
 */
package org.clustermd.dlm.testing;
