/**
 * ZooKeeper servers for clustermd, built on ZooKeeper's own server classes: the embedded
 * default and the test ensembles.
 *
 * <ul>
 *   <li>{@link org.clustermd.dlm.server.EmbeddedZooKeeper}: one standalone server in this JVM
 *       ({@code ZooKeeperServer} + {@code ServerCnxnFactory}), bound to 127.0.0.1, data and
 *       transaction log in a directory. {@code bin/clustermd zk} runs it in the foreground.</li>
 *   <li>{@link org.clustermd.dlm.server.EmbeddedZooKeeperEnsemble}: N {@code QuorumPeer}s in
 *       this JVM on free loopback ports, with kill/restart of one server and the leader's
 *       index, for tests that restart the leader.</li>
 *   <li>{@link org.clustermd.dlm.server.ZooKeeperProcessEnsemble}: N servers as separate JVM
 *       processes ({@code QuorumPeerMain} from the classpath of this JVM) that a test can
 *       SIGKILL, SIGSTOP and SIGCONT.</li>
 * </ul>
 *
 * <p>All three share {@link org.clustermd.dlm.server.ZooKeeperSettings} (tick time, session
 * timeout range, forceSync, connection limit, server authentication providers).
 *
 * <p><b>Threads.</b> The in-process servers start every ZooKeeper thread from a daemon
 * launcher thread that lives in a {@link java.lang.ThreadGroup} of its own, so
 * {@code close()} can find every thread the server started, however ZooKeeper created it,
 * and join it (interrupting the few that would otherwise sleep on a queue). A stopped server
 * leaves no thread behind, daemon or not.
 *
 * <p><b>Authentication.</b> Digest credentials need nothing on the server: the client adds
 * them and sets ACLs. Other schemes (for example x509 through
 * {@code org.apache.zookeeper.server.auth.X509AuthenticationProvider}) are registered with
 * {@link org.clustermd.dlm.server.ZooKeeperSettings.Builder#authProvider}; ZooKeeper keeps
 * providers JVM-wide, so the registration is too. The embedded servers open a plain client
 * port only: x509 needs a TLS client port, configured through ZooKeeper's own
 * {@code zookeeper.ssl.*} system properties on an external ensemble.
 */
package org.clustermd.dlm.server;
