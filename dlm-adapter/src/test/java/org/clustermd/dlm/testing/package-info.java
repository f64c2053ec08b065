/**
 * Test utilities shipped in dlm-adapter's test-jar for every module that tests against
 * ZooKeeper: {@link org.clustermd.dlm.testing.TcpProxy} (a link the test can cut, drop and
 * restore, to make a client see a partition). Waits are scaled by testkit's
 * {@code org.clustermd.testkit.Timing}.
 */
package org.clustermd.dlm.testing;
